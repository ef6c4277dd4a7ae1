// `report --format html`: one self-contained page (inline CSS, no scripts, no external resources) for
// mail or a browser. Every value is HTML-escaped; a CSP meta tag forbids scripts as a second net.

import type { ExpiryReport, ReportSectionId } from "../core/report/expiry-report.ts";
import { attentionRowCells, humanTime } from "./report-cells.ts";
import { attentionSections, NOTHING_TO_DO, readerSections, summaryLine } from "./report-summary.ts";

const STYLE = `body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1f24}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}th,td{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right}code{font-size:.9em}
h2.red{color:#b42318}h2.yellow{color:#9a6700}h2.blue{color:#0b5cad}`;

const TONE: Readonly<Partial<Record<ReportSectionId, string>>> = {
  overdue: "red",
  failed: "red",
  stuck: "red",
  invalid: "red",
  due_soon: "yellow",
  unverified: "yellow",
  flagged: "yellow",
};

export function formatReportHtml(report: ExpiryReport): string {
  const generated = `${humanTime(report.generatedAt)} UTC`;
  const out = [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    `<title>Credential expiry report, ${escapeHtml(generated)}</title>`,
    `<style>${STYLE}</style>`,
    "</head>",
    "<body>",
    "<h1>Credential expiry report</h1>",
    `<p>Generated <time datetime="${report.generatedAt.toISOString()}">${escapeHtml(generated)}</time>. ${escapeHtml(summaryLine(report))}.</p>`,
    "<table><thead><tr><th>State</th><th>Count</th></tr></thead><tbody>",
    ...report.sections.map(
      (s) => `<tr><td>${escapeHtml(s.title)}</td><td class="num">${s.items.length}</td></tr>`,
    ),
    "</tbody></table>",
  ];
  const sections = attentionSections(report);
  if (sections.length === 0) out.push(`<p>${NOTHING_TO_DO}</p>`);
  for (const section of sections) {
    const tone = TONE[section.id] ?? "blue";
    out.push(`<h2 class="${tone}">${escapeHtml(section.title)} (${section.items.length})</h2>`);
    out.push("<table><thead><tr>");
    out.push(
      "<th>Path</th><th>Provider</th><th>Deadline (UTC)</th><th>In</th><th>Consumers</th><th>Contact</th><th>Reason</th>",
    );
    out.push("</tr></thead><tbody>");
    for (const item of section.items) {
      const [path, ...rest] = attentionRowCells(item).map(escapeHtml);
      const cells = [`<code>${path ?? ""}</code>`, ...rest];
      out.push(`<tr>${cells.map((c) => `<td>${c}</td>`).join("")}</tr>`);
    }
    out.push("</tbody></table>");
  }
  for (const section of readerSections(report)) {
    out.push(`<h2 class="blue">${escapeHtml(section.title)} (${section.rows.length})</h2>`);
    out.push("<table><thead><tr><th>Path</th><th>Readers</th></tr></thead><tbody>");
    for (const [path = "", readers = ""] of section.rows)
      out.push(`<tr><td><code>${escapeHtml(path)}</code></td><td>${escapeHtml(readers)}</td></tr>`);
    out.push("</tbody></table>");
  }
  out.push("</body>", "</html>");
  return `${out.join("\n")}\n`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => HTML_ENTITIES[ch] ?? ch);
}

const HTML_ENTITIES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};
