// A fixed-width text table for terminals: left-aligned columns, two spaces apart, long cells cut with "…".
// Widths count UTF-16 code points, which is right for the ASCII that paths and states mostly are.

export interface TextColumn {
  readonly header: string;
  readonly maxWidth: number;
}

export function renderTextTable(
  columns: readonly TextColumn[],
  rows: readonly (readonly string[])[],
): string[] {
  const fitted = rows.map((row) => columns.map((col, i) => fitCell(row[i] ?? "", col.maxWidth)));
  // reduce, not Math.max(...rows): a scan of many thousands of entries would overflow the argument list.
  const widths = columns.map((col, i) =>
    fitted.reduce((w, row) => Math.max(w, width(row[i] ?? "")), width(col.header)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((text, i) => (i === cells.length - 1 ? text : text + " ".repeat((widths[i] ?? 0) - width(text))))
      .join("  ")
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...fitted.map(line)];
}

function width(text: string): number {
  return Array.from(text).length;
}

function fitCell(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, Math.max(0, max - 1)).join("")}…`;
}
