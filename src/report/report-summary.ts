// The lines every human-readable report format starts with.

import type { ReaderRow } from "../core/inventory/inventory-item.ts";
import type { ExpiryReport, ReportSection } from "../core/report/expiry-report.ts";
import { formatRelative } from "../core/time.ts";
import { cell } from "./report-cells.ts";

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

/** A reader section of the report: a title and rows of [path, what was seen], display-safe but not escaped. */
export interface ReaderSectionText {
  readonly title: string;
  readonly rows: readonly (readonly string[])[];
}

/** The reader feed's findings in words, for every human format; empty without findings. */
export function readerSections(report: ExpiryReport): ReaderSectionText[] {
  const f = report.readers;
  if (f === undefined) return [];
  const now = report.generatedAt;
  const who = (rows: readonly ReaderRow[]) =>
    rows.map((x) => `${x.label} (v${x.version}, ${formatRelative(x.lastReadMs - now.getTime())})`).join(", ");
  return [
    {
      title: "Readers: no reader in the window",
      rows: f.noReader.map((i) => [
        cell(i.path),
        i.consumers.length === 0 ? "no consumer declared" : cell(`declared: ${i.consumers.join(", ")}`),
      ]),
    },
    {
      title: "Readers: still on an old version",
      rows: f.lagging.map(({ item, readers }) => [
        cell(item.path),
        cell(`current v${item.currentVersion ?? "?"}; ${who(readers)}`, 400),
      ]),
    },
    {
      title: "Readers: seen beside the declared consumers",
      rows: f.discovery.map(({ item, undeclared, unseenConsumers }) => {
        const parts = [
          undeclared.length === 0 ? "" : `seen, not declared: ${who(undeclared)}`,
          unseenConsumers.length === 0 ? "" : `declared, never seen: ${unseenConsumers.join(", ")}`,
        ];
        return [cell(item.path), cell(parts.filter((p) => p !== "").join("; "), 400)];
      }),
    },
  ].filter((s) => s.rows.length > 0);
}
