import { describe, expect, it } from "vitest";
import type { InventoryItem } from "../../src/core/inventory/inventory-item.ts";
import { buildExpiryReport } from "../../src/core/report/expiry-report.ts";
import { formatReportTable } from "../../src/report/format-table.ts";
import { fixtureReport, NOW } from "./report-fixture.ts";

describe("formatReportTable", () => {
  const text = formatReportTable(fixtureReport());
  const lines = text.split("\n");

  it("starts with the time, the totals and the count of every section", () => {
    expect(lines[0]).toBe("Expiry report, 2026-05-04 09:00 UTC");
    expect(lines[1]).toBe("12 credentials: 11 managed, 1 unmanaged; 10 need attention");
    expect(lines[2]).toBe(
      "overdue 2 · due soon 1 · failed 1 · unverified 1 · stuck 1 · invalid 2 · flagged 1 · in progress 1 · ok 1",
    );
  });

  it("shows the attention sections in report order and leaves out ok and unmanaged", () => {
    const titles = lines.filter((l) => /^[A-Z ]+ \(\d+\)$/.test(l));
    expect(titles).toEqual([
      "OVERDUE (2)",
      "DUE SOON (1)",
      "FAILED ROTATIONS (1)",
      "ROTATED BUT NOT VERIFIED (1)",
      "STUCK ROTATIONS (1)",
      "INVALID OR UNREADABLE (2)",
      "FLAGGED FOR ROTATION (1)",
      "ROTATION IN PROGRESS (1)",
    ]);
    expect(text).not.toContain("api/fine");
    expect(text).not.toContain("api/other-team");
  });

  it("gives each row its deadline, distance, consumers, contact and reason in aligned columns", () => {
    const header = lines[lines.indexOf("OVERDUE (2)") + 1] ?? "";
    const row = lines.find((l) => l.startsWith("api/overdue-a")) ?? "";
    expect(header).toMatch(/^PATH +PROVIDER +DEADLINE \(UTC\) +IN +CONSUMERS +CONTACT +REASON$/);
    for (const [column, value] of [
      ["PROVIDER", "salesforce-eca"],
      ["DEADLINE (UTC)", "2026-04-24 09:00"],
      ["IN", "10d ago"],
      ["CONSUMERS", "billing, crm"],
      ["CONTACT", "#billing"],
      ["REASON", "deadline passed 10d ago"],
    ] as const) {
      // Columns are found by their "  NAME" start, since "IN" also occurs inside "DEADLINE".
      expect(row.indexOf(`  ${value}`) + 2, column).toBe(header.indexOf(`  ${column}`) + 2);
    }
  });

  it("shows the last error of a failed rotation and the reason of a flag", () => {
    expect(text).toContain("the last rotation failed: SALESFORCE_NOT_FOUND: app gone");
    expect(text).toContain("rotate=emergency requested: INC-9");
  });

  it("uses colour only when asked", () => {
    expect(text).not.toContain("\u001b[");
    const coloured = formatReportTable(fixtureReport(), { color: true });
    expect(coloured).toContain("\u001b[1;31mOVERDUE (2)\u001b[0m");
    expect(coloured).toContain("\u001b[1;33mDUE SOON (1)\u001b[0m");
  });

  it("says so when nothing needs attention", () => {
    const report = buildExpiryReport([{ path: "a", state: "ok", consumers: [], stuck: false }], NOW);
    expect(formatReportTable(report)).toContain("\nNothing needs attention.\n");
  });

  it("neutralises control characters and cuts very long paths", () => {
    const odd: InventoryItem = {
      path: `api/\u001b[2J${"x".repeat(100)}`,
      state: "invalid",
      reason: "r",
      consumers: [],
      stuck: false,
    };
    const out = formatReportTable(buildExpiryReport([odd], NOW));
    expect(out).not.toContain("\u001b");
    expect(out).toContain("api/\ufffd[2Jxxx");
    expect(out).toContain("x…");
  });
});
