/** Plain-text columns for terminals and logs: left-aligned, two spaces apart, no trailing blanks. */
export function formatTable(header: string[], rows: string[][], indent = '  '): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => (indent + cells.map((c, i) => c.padEnd(widths[i])).join('  ')).trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
