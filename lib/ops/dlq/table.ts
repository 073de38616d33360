import { terminal } from '../../format/terminal.ts';

/**
 * A plain-text table: a header row, then one row per entry, columns padded to the widest
 * cell. Cells longer than `maxWidth` (per column) are cut with an ellipsis. Every cell is
 * terminal text (lib/format/terminal.ts): group keys, alert names and reasons come from
 * alert rules and vendors, and an escape sequence in one must not reach the operator's
 * terminal.
 *
 * @example formatTable(['SINK', 'DEPTH'], [['webhook', '2']])
 * // SINK     DEPTH
 * // webhook  2
 */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  options: { maxWidth?: readonly (number | undefined)[] } = {},
): string {
  const cut = (cell: string, column: number) => {
    const max = options.maxWidth?.[column];
    const flat = terminal(cell).replace(/\s+/g, ' ');
    return max !== undefined && flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
  };
  const cells = [header, ...rows].map((row) => row.map(cut));
  const widths = header.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  return cells
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
