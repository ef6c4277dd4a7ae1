import { describe, expect, it } from "vitest";
import type { CredentialState, InventoryItem } from "../../../src/core/inventory/inventory-item.ts";
import {
  buildExpiryReport,
  exitCodeFor,
  type FailOn,
  REPORT_SECTION_IDS,
} from "../../../src/core/report/expiry-report.ts";
import { fixtureItems, fixtureReport, NOW } from "../../report/report-fixture.ts";

function item(path: string, state: CredentialState, extra: Partial<InventoryItem> = {}): InventoryItem {
  return { path, state, consumers: [], stuck: false, ...extra };
}
const paths = (report: ReturnType<typeof buildExpiryReport>, id: string): string[] =>
  report.sections.find((s) => s.id === id)?.items.map((i) => i.path) ?? [];

describe("buildExpiryReport", () => {
  it("counts every state, managed and unmanaged, stuck and what needs attention", () => {
    const report = fixtureReport();
    expect(report.generatedAt).toEqual(NOW);
    expect(report.totals).toEqual({
      all: 12,
      managed: 11,
      unmanaged: 1,
      needingAttention: 10,
      stuck: 1,
      byState: {
        unmanaged: 1,
        invalid: 2,
        failed: 1,
        in_progress: 1,
        awaiting_promotion: 1,
        flagged: 1,
        overdue: 2,
        unverified: 1,
        due_soon: 1,
        ok: 1,
      },
    });
  });

  it("lists every section in a fixed order, each credential in exactly one", () => {
    const report = fixtureReport();
    expect(report.sections.map((s) => s.id)).toEqual([...REPORT_SECTION_IDS]);
    expect(report.sections.map((s) => s.id)).toEqual([
      "overdue",
      "due_soon",
      "failed",
      "unverified",
      "stuck",
      "invalid",
      "flagged",
      "in_progress",
      "ok",
      "unmanaged",
    ]);
    const all = report.sections.flatMap((s) => s.items.map((i) => i.path)).sort();
    expect(all).toEqual(
      fixtureItems()
        .map((i) => i.path)
        .sort(),
    );
    expect(report.sections.filter((s) => !s.attention).map((s) => s.id)).toEqual(["ok", "unmanaged"]);
  });

  it("puts a stuck rotation under stuck and a healthy one under in progress", () => {
    const report = fixtureReport();
    expect(paths(report, "stuck")).toEqual(["api/stuck"]);
    expect(paths(report, "in_progress")).toEqual(["api/running"]);
  });

  it("sorts by deadline, most overdue first, ties by path, no deadline last", () => {
    const d = (iso: string) => new Date(iso);
    const report = buildExpiryReport(
      [
        item("c", "overdue", { deadline: d("2026-04-01T00:00:00Z") }),
        item("b", "overdue", { deadline: d("2026-03-01T00:00:00Z") }),
        item("a", "overdue", { deadline: d("2026-04-01T00:00:00Z") }),
        item("0-no-deadline", "failed"),
        item("z-failed", "failed", { deadline: d("2026-01-01T00:00:00Z") }),
      ],
      NOW,
    );
    expect(paths(report, "overdue")).toEqual(["b", "a", "c"]);
    expect(paths(report, "failed")).toEqual(["z-failed", "0-no-deadline"]);
  });

  it("sorts invalid and unmanaged credentials by path", () => {
    const report = fixtureReport();
    expect(paths(report, "invalid")).toEqual(["api/invalid-a", "api/invalid-z"]);
    expect(paths(report, "overdue")).toEqual(["api/overdue-a", "api/overdue-b"]);
  });

  it("gives an empty inventory an all-zero report", () => {
    const report = buildExpiryReport([], NOW);
    expect(report.totals.all).toBe(0);
    expect(report.sections.every((s) => s.items.length === 0)).toBe(true);
  });
});

describe("exitCodeFor", () => {
  it.each<[CredentialState, Partial<InventoryItem>, FailOn, 0 | 1]>([
    ["overdue", {}, "overdue", 1],
    ["failed", {}, "overdue", 1],
    ["due_soon", {}, "overdue", 0],
    ["flagged", {}, "overdue", 0],
    ["invalid", {}, "overdue", 0],
    ["in_progress", { stuck: true }, "overdue", 0],
    ["overdue", {}, "due", 1],
    ["failed", {}, "due", 1],
    ["due_soon", {}, "due", 1],
    ["flagged", {}, "due", 1],
    ["unverified", {}, "due", 1],
    ["invalid", {}, "due", 1],
    ["in_progress", { stuck: true }, "due", 1],
    ["awaiting_promotion", { stuck: true }, "due", 1],
    ["in_progress", {}, "due", 0],
    ["awaiting_promotion", {}, "due", 0],
    ["ok", {}, "due", 0],
    ["unmanaged", {}, "due", 0],
    ["overdue", {}, "never", 0],
    ["failed", {}, "never", 0],
  ])("a %s credential (%o) with --fail-on %s exits %d", (state, extra, failOn, code) => {
    const report = buildExpiryReport([item("p", state, extra), item("q", "ok")], NOW);
    expect(exitCodeFor(report, failOn)).toBe(code);
  });
});
