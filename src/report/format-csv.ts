// `report --format csv`: one row per credential (every section, ok and unmanaged included), for
// spreadsheets. RFC 4180: CRLF line ends, fields quoted when they hold a comma, quote, CR or LF, quotes
// doubled. Text that a spreadsheet would run as a formula (starting = + - @ or a tab/CR) gets a leading
// apostrophe (OWASP "CSV injection"); numbers and dates are never touched.

import type { ExpiryReport } from "../core/report/expiry-report.ts";
import { isoOrNull } from "./report-cells.ts";

export const REPORT_CSV_COLUMNS = [
  "section",
  "state",
  "path",
  "provider",
  "credential_type",
  "risk",
  "deadline",
  "seconds_to_deadline",
  "deadline_basis",
  "capped_by_expiry",
  "last_rotated",
  "rotation_verified_at",
  "rotation_state",
  "stuck",
  "consumers",
  "rotation_contact",
  "reason",
  "last_rotation_error",
] as const;

type Field = string | number | boolean | null | undefined;

export function formatReportCsv(report: ExpiryReport): string {
  const lines = [REPORT_CSV_COLUMNS.join(",")];
  for (const section of report.sections) {
    for (const item of section.items) {
      const fields: Field[] = [
        section.id,
        item.state,
        text(item.path),
        text(item.provider),
        item.credentialType,
        item.risk,
        isoOrNull(item.deadline),
        item.secondsToDeadline,
        item.deadlineBasis,
        item.cappedByExpiry,
        isoOrNull(item.lastRotated),
        isoOrNull(item.verifiedAt),
        item.rotationState,
        item.stuck,
        text(item.consumers.join("; ")),
        text(item.contact),
        text(item.reason),
        text(item.lastError),
      ];
      lines.push(fields.map(csvField).join(","));
    }
  }
  return `${lines.join("\r\n")}\r\n`;
}

/** Free text from Vault: defused against formula injection. */
function text(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

export function csvField(value: Field): string {
  if (value === null || value === undefined) return "";
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}
