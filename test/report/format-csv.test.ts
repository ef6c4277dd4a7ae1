import { describe, expect, it } from "vitest";
import { buildExpiryReport } from "../../src/core/report/expiry-report.ts";
import { csvField, formatReportCsv, REPORT_CSV_COLUMNS } from "../../src/report/format-csv.ts";
import { fixtureReport, NOW } from "./report-fixture.ts";

/** A strict RFC 4180 reader, to prove the output round-trips. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i];
    if (quoted && ch === '"' && text[i + 1] === '"') {
      field += '"';
      i += 1;
    } else if (ch === '"') {
      quoted = !quoted;
    } else if (!quoted && ch === ",") {
      row.push(field);
      field = "";
    } else if (!quoted && ch === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i += 1;
    } else {
      field += ch;
    }
  }
  return rows;
}

describe("formatReportCsv", () => {
  const csv = formatReportCsv(fixtureReport());
  const rows = parseCsv(csv);

  it("has a header and one CRLF-terminated row per credential, ok and unmanaged included", () => {
    expect(rows[0]).toEqual([...REPORT_CSV_COLUMNS]);
    expect(rows).toHaveLength(13);
    expect(csv.endsWith("\r\n")).toBe(true);
    expect(csv.replaceAll("\r\n", "")).not.toContain("\n");
    expect(rows.every((r) => r.length === REPORT_CSV_COLUMNS.length)).toBe(true);
  });

  it("names each row's section and state", () => {
    const bySection = rows.slice(1).map((r) => `${r[0]}/${r[1]}/${r[2]}`);
    expect(bySection).toContain("stuck/in_progress/api/stuck");
    expect(bySection).toContain("in_progress/awaiting_promotion/api/running");
    expect(bySection).toContain("unmanaged/unmanaged/api/other-team");
    expect(bySection[0]).toBe("overdue/overdue/api/overdue-a");
  });

  it("writes ISO dates, numbers and joined consumers", () => {
    const header = rows[0] ?? [];
    const first = rows[1] ?? [];
    const get = (col: string) => first[header.indexOf(col)];
    expect(get("deadline")).toBe("2026-04-24T09:00:00.000Z");
    expect(get("seconds_to_deadline")).toBe("-864000");
    expect(get("consumers")).toBe("billing; crm");
    expect(get("capped_by_expiry")).toBe("false");
  });

  it.each([
    ["plain", "plain"],
    ["a,b", '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ["two\nlines", '"two\nlines"'],
    ["cr\rhere", '"cr\rhere"'],
    [null, ""],
    [42, "42"],
  ])("quotes %j as %j", (value, out) => {
    expect(csvField(value)).toBe(out);
  });

  it("round-trips awkward values and defuses spreadsheet formulas", () => {
    const report = buildExpiryReport(
      [
        {
          path: 'api/"quoted",path',
          state: "invalid",
          reason: "line1\nline2",
          contact: '=HYPERLINK("http://evil")',
          consumers: ["+a", "b"],
          stuck: false,
        },
      ],
      NOW,
    );
    const [header, row] = parseCsv(formatReportCsv(report));
    const get = (col: string) => row?.[header?.indexOf(col) ?? -1];
    expect(get("path")).toBe('api/"quoted",path');
    expect(get("reason")).toBe("line1\nline2");
    expect(get("rotation_contact")).toBe('\'=HYPERLINK("http://evil")');
    expect(get("consumers")).toBe("'+a; b");
  });
});
