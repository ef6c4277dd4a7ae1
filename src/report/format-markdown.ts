// `report --format markdown`: for wikis, tickets and chat that renders Markdown. Every value is escaped so
// a path or contact cannot add links, HTML or table columns.

import type { ExpiryReport } from "../core/report/expiry-report.ts";
import { attentionRowCells, humanTime } from "./report-cells.ts";
import { attentionSections, NOTHING_TO_DO, readerSections, summaryLine } from "./report-summary.ts";

export function formatReportMarkdown(report: ExpiryReport): string {
  const out = [
    "# Credential expiry report",
    "",
    `Generated ${humanTime(report.generatedAt)} UTC. ${summaryLine(report)}.`,
    "",
    "| State | Count |",
    "|---|---:|",
    ...report.sections.map((s) => `| ${s.title} | ${s.items.length} |`),
  ];
  const sections = attentionSections(report);
  if (sections.length === 0) out.push("", NOTHING_TO_DO);
  for (const section of sections) {
    out.push("", `## ${section.title} (${section.items.length})`, "");
    out.push("| Path | Provider | Deadline (UTC) | In | Consumers | Contact | Reason |");
    out.push("|---|---|---|---|---|---|---|");
    for (const item of section.items) {
      out.push(`| ${attentionRowCells(item).map(escapeMarkdown).join(" | ")} |`);
    }
  }
  for (const section of readerSections(report)) {
    out.push("", `## ${section.title} (${section.rows.length})`, "", "| Path | Readers |", "|---|---|");
    for (const row of section.rows) out.push(`| ${row.map(escapeMarkdown).join(" | ")} |`);
  }
  return `${out.join("\n")}\n`;
}

/** Backslash-escapes the ASCII punctuation that Markdown (CommonMark/GFM) gives meaning to inline. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_[\]<>|~&!#]/g, (ch) => `\\${ch}`);
}
