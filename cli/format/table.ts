/**
 * kubectl's table layout (printers.GetNewTabWriter: Go's text/tabwriter with minwidth 6, padding 3,
 * pad character ' '): every column but the last is padded to max(widest cell + 3, 6); the last cell
 * of a line is written as is. Widths count characters (runes), as tabwriter does.
 */
const MIN_WIDTH = 6;
const PADDING = 3;

export function renderRows(rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return '';
  const cols = Math.max(...rows.map((r) => r.length));
  const widths: number[] = [];
  for (let i = 0; i < cols - 1; i++) {
    const w = Math.max(...rows.map((r) => (i < r.length - 1 ? [...(r[i] ?? '')].length : 0)));
    widths.push(Math.max(w + PADDING, MIN_WIDTH));
  }
  return rows
    .map((r) =>
      r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i]! - [...c].length))).join(''),
    )
    .map((l) => `${l}\n`)
    .join('');
}

/** A header row (upper-case, as given) and data rows. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  return renderRows([headers, ...rows]);
}
