// Plain-text tables for the terminal: column widths from the content, numbers right-aligned.

export interface TableOptions {
  /** Per column: 'left' or 'right'. Default: the first column left, the others right. */
  align?: ('left' | 'right')[];
  title?: string;
}

export function formatTable(header: string[], rows: string[][], options: TableOptions = {}): string {
  const columns = header.length;
  rows.forEach((row, i) => {
    if (row.length !== columns)
      throw new RangeError(`formatTable: rows[${i}] has ${row.length} cells, the header ${columns}`);
  });
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const align = options.align ?? header.map((_, c) => (c === 0 ? 'left' : 'right'));
  const line = (cells: string[]): string =>
    cells
      .map((cell, c) => (align[c] === 'left' ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const out = [line(header), rule, ...rows.map(line)];
  if (options.title) out.unshift(options.title);
  return `${out.join('\n')}\n`;
}

/** 0.5234 -> "52.3%"; undefined/NaN -> "-". */
export function percent(value: number | undefined | null, digits = 1): string {
  return value === undefined || value === null || !Number.isFinite(value) ? '-' : `${(value * 100).toFixed(digits)}%`;
}
