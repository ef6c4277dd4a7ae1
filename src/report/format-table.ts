// `report --format table` (the default): fixed-width text for terminals and plain-text mail. Colour only
// when asked (the CLI asks when stdout is a TTY and NO_COLOR is unset).
import type { ExpiryReport, ReportSectionId } from "../core/report/expiry-report.ts";
import { attentionRowCells, humanTime } from "./report-cells.ts";
import {
  attentionSections,
  countsLine,
  NOTHING_TO_DO,
  readerSections,
  summaryLine,
} from "./report-summary.ts";

export interface TableFormatOptions {
  readonly color?: boolean;
}

const REPORT_TABLE_COLUMNS: readonly TextColumn[] = [
  { header: "PATH", maxWidth: 60 },
  { header: "PROVIDER", maxWidth: 14 },
  { header: "DEADLINE (UTC)", maxWidth: 16 },
  { header: "IN", maxWidth: 14 },
  { header: "CONSUMERS", maxWidth: 30 },
  { header: "CONTACT", maxWidth: 30 },
  { header: "REASON", maxWidth: 80 },
];

const READER_TABLE_COLUMNS: readonly TextColumn[] = [
  { header: "PATH", maxWidth: 60 },
  { header: "READERS", maxWidth: 200 },
];

const RED = new Set<ReportSectionId>(["overdue", "failed", "stuck", "invalid"]);
const YELLOW = new Set<ReportSectionId>(["due_soon", "unverified", "flagged"]);

export function formatReportTable(report: ExpiryReport, opts: TableFormatOptions = {}): string {
  const out = [
    `Expiry report, ${humanTime(report.generatedAt)} UTC`,
    summaryLine(report),
    countsLine(report),
  ];
  const sections = attentionSections(report);
  if (sections.length === 0) out.push("", NOTHING_TO_DO);
  for (const section of sections) {
    const title = `${section.title.toUpperCase()} (${section.items.length})`;
    out.push("", opts.color === true ? paint(title, section.id) : title);
    const rows = section.items.map(attentionRowCells);
    out.push(...renderTextTable(REPORT_TABLE_COLUMNS, rows));
  }
  for (const section of readerSections(report)) {
    out.push("", `${section.title.toUpperCase()} (${section.rows.length})`);
    out.push(...renderTextTable(READER_TABLE_COLUMNS, section.rows));
  }
  return `${out.join("\n")}\n`;
}

function paint(text: string, id: ReportSectionId): string {
  const code = RED.has(id) ? "31" : YELLOW.has(id) ? "33" : "36";
  return `\u001b[1;${code}m${text}\u001b[0m`;
}

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
