// Stacked bars per day, drawn on the server as inline SVG: no chart library, no script.
import type { FC } from 'hono/jsx';
import { tokens as fmt } from './format.js';
import type { DayBucket } from './usage-queries.js';

const COLORS = ['#2456c7', '#e07b39', '#2f9e6e', '#a44fb8', '#c9a227', '#d1495b', '#4aa3c9', '#7a6c5d'];
const OTHER = '#9aa4b1';
const MAX_SERIES = COLORS.length;

/** Every UTC day from `from` up to (not including) `to`. */
export function daysBetween(from: Date, to: Date): string[] {
  const days: string[] = [];
  for (let t = Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate()); t < to.getTime(); t += 86_400_000) days.push(new Date(t).toISOString().slice(0, 10));
  return days;
}

/** The biggest series keep their colour; the rest are summed as "other" so the legend stays readable. */
function series(buckets: DayBucket[]): { names: string[]; colorOf: (name: string) => string; nameOf: (group: string) => string } {
  const totals = new Map<string, number>();
  for (const b of buckets) totals.set(b.group, (totals.get(b.group) ?? 0) + b.tokens);
  const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([name]) => name);
  const kept = ranked.length > MAX_SERIES ? ranked.slice(0, MAX_SERIES - 1) : ranked;
  const keptSet = new Set(kept);
  const names = ranked.length > kept.length ? [...kept, 'other'] : kept;
  return {
    names,
    colorOf: (name) => (keptSet.has(name) ? COLORS[kept.indexOf(name)]! : OTHER),
    nameOf: (group) => (keptSet.has(group) ? group : 'other'),
  };
}

export const UsageChart: FC<{ buckets: DayBucket[]; days: string[]; label: string }> = ({ buckets, days, label }) => {
  const { names, colorOf, nameOf } = series(buckets);
  const perDay = new Map<string, Map<string, number>>();
  for (const b of buckets) {
    const day = perDay.get(b.day) ?? new Map<string, number>();
    day.set(nameOf(b.group), (day.get(nameOf(b.group)) ?? 0) + b.tokens);
    perDay.set(b.day, day);
  }
  const max = Math.max(1, ...[...perDay.values()].map((m) => [...m.values()].reduce((s, v) => s + v, 0)));
  const width = 760;
  const height = 240;
  const left = 64;
  const bottom = 24;
  const plotW = width - left - 8;
  const plotH = height - bottom - 10;
  const slot = plotW / Math.max(1, days.length);
  const barW = Math.max(2, slot * 0.7);
  const ticks = [0, 0.5, 1].map((f) => Math.round(max * f));
  const labelEvery = Math.ceil(days.length / 8);
  return (
    <figure class="chart" data-chart>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label}>
        {ticks.map((t) => {
          const y = 10 + plotH - (t / max) * plotH;
          return (
            <g>
              <line x1={left} x2={width - 8} y1={y} y2={y} stroke="#e3e7ec" />
              <text x={left - 6} y={y + 4} font-size="11" text-anchor="end" fill="#5b6675">{fmt(t)}</text>
            </g>
          );
        })}
        {days.map((day, i) => {
          const x = left + i * slot + (slot - barW) / 2;
          let y = 10 + plotH;
          const values = perDay.get(day);
          return (
            <g>
              {names.map((name) => {
                const value = values?.get(name) ?? 0;
                if (value === 0) return null;
                const h = (value / max) * plotH;
                y -= h;
                return (
                  <rect x={x} y={y} width={barW} height={Math.max(h, 1)} fill={colorOf(name)} data-day={day} data-series={name} data-tokens={String(value)}>
                    <title>{`${day} ${name}: ${fmt(value)} tokens`}</title>
                  </rect>
                );
              })}
              {i % labelEvery === 0 && (
                <text x={left + i * slot + slot / 2} y={height - 6} font-size="11" text-anchor="middle" fill="#5b6675">{day.slice(5)}</text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption class="legend">
        {names.length === 0 ? <span class="muted">No usage in this range.</span> : names.map((name) => <span style={`--swatch:${colorOf(name)}`}>{name}</span>)}
      </figcaption>
    </figure>
  );
};
