// `report --format table` (the default): fixed-width text for terminals and plain-text mail. Colour only
// when asked (the CLI asks when stdout is a TTY and NO_COLOR is unset).

import type { ExpiryReport, ReportSectionId } from "../core/report/expiry-report.ts";
import { attentionRowCells, humanTime } from "./report-cells.ts";
import { attentionSections, countsLine, NOTHING_TO_DO, summaryLine } from "./report-summary.ts";
import { renderTextTable, type TextColumn } from "./text-table.ts";

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
  return `${out.join("\n")}\n`;
}

function paint(text: string, id: ReportSectionId): string {
  const code = RED.has(id) ? "31" : YELLOW.has(id) ? "33" : "36";
  return `\u001b[1;${code}m${text}\u001b[0m`;
}
