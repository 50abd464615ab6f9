// Small building blocks the pages share: stat cards, tables, pagers, labelled fields.
import type { Child, FC, PropsWithChildren } from 'hono/jsx';

export const StatCard: FC<{ label: string; value: string; sub?: string; id?: string }> = ({ label, value, sub, id }) => (
  <div class="card" id={id}>
    <div class="label">{label}</div>
    <div class="value" data-value>{value}</div>
    {sub && <div class="sub">{sub}</div>}
  </div>
);

export interface Column<T> {
  label: string;
  num?: boolean;
  cell: (row: T) => Child;
}

export function Table<T>({ rows, columns, empty, caption }: { rows: T[]; columns: Column<T>[]; empty: string; caption?: string }) {
  return (
    <div class="table-wrap">
      <table>
        {caption && <caption class="skip">{caption}</caption>}
        <thead>
          <tr>
            {columns.map((col) => (
              <th scope="col" class={col.num ? 'num' : undefined}>{col.label}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 ? (
            <tr>
              <td colspan={columns.length} class="muted">{empty}</td>
            </tr>
          ) : (
            rows.map((row) => (
              <tr>
                {columns.map((col) => (
                  <td class={col.num ? 'num' : undefined}>{col.cell(row)}</td>
                ))}
              </tr>
            ))
          )}
        </tbody>
      </table>
    </div>
  );
}

/** Links to the first page and the next one, keeping the filters of the current query. */
export const Pager: FC<{ path: string; query: Record<string, string | undefined>; nextCursor: string | null; cursorName?: string }> = ({ path, query, nextCursor, cursorName = 'cursor' }) => {
  const keep = Object.entries(query).filter(([k, v]) => v !== undefined && v !== '' && k !== cursorName) as [string, string][];
  const first = `${path}?${new URLSearchParams(keep)}`;
  const next = nextCursor ? `${path}?${new URLSearchParams([...keep, [cursorName, nextCursor]])}` : null;
  return (
    <nav class="pager" aria-label="Pages">
      {query[cursorName] && <a href={first}>First page</a>}
      {next ? <a href={next} rel="next">Next page</a> : <span class="muted">No more rows</span>}
    </nav>
  );
};

export const Field: FC<PropsWithChildren<{ label: string; error?: string }>> = ({ label, error, children }) => (
  <label>
    {label}
    {children}
    {error && <span class="field-error" role="alert">{error}</span>}
  </label>
);
