// The date range of a report page: `from` and `to` as YYYY-MM-DD (UTC days, `to` included), default
// the last 30 days. Bad or reversed dates fall back to the default rather than failing the page.
export interface DayRange {
  from: Date; // inclusive, midnight UTC
  to: Date; // exclusive: midnight after the last day
  fromText: string;
  toText: string;
}

const DAY_MS = 86_400_000;
const MAX_DAYS = 366;

function parseDay(text: string | undefined): Date | null {
  if (!text || !/^\d{4}-\d{2}-\d{2}$/.test(text)) return null;
  const date = new Date(`${text}T00:00:00Z`);
  return Number.isNaN(date.getTime()) ? null : date;
}

export function dayRange(query: { from?: string; to?: string }, now = new Date(), defaultDays = 30): DayRange {
  const today = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  let last = parseDay(query.to) ?? today;
  let first = parseDay(query.from) ?? new Date(last.getTime() - (defaultDays - 1) * DAY_MS);
  if (first > last) [first, last] = [last, first];
  if ((last.getTime() - first.getTime()) / DAY_MS >= MAX_DAYS) first = new Date(last.getTime() - (MAX_DAYS - 1) * DAY_MS);
  return { from: first, to: new Date(last.getTime() + DAY_MS), fromText: first.toISOString().slice(0, 10), toText: last.toISOString().slice(0, 10) };
}
