// The lines every human-readable report format starts with.

import type { ExpiryReport, ReportSection } from "../core/report/expiry-report.ts";

export function summaryLine(report: ExpiryReport): string {
  const { all, managed, unmanaged, needingAttention } = report.totals;
  const noun = all === 1 ? "credential" : "credentials";
  return `${all} ${noun}: ${managed} managed, ${unmanaged} unmanaged; ${needingAttention} need attention`;
}

/** "overdue 1 · due soon 2 · …" over every managed section, zeros included so the shape never changes. */
export function countsLine(report: ExpiryReport): string {
  return report.sections
    .filter((s) => s.id !== "unmanaged")
    .map((s) => `${s.id.replace("_", " ")} ${s.items.length}`)
    .join(" · ");
}

export function attentionSections(report: ExpiryReport): ReportSection[] {
  return report.sections.filter((s) => s.attention && s.items.length > 0);
}

export const NOTHING_TO_DO = "Nothing needs attention.";
