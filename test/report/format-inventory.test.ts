import { describe, expect, it } from "vitest";
import { formatInventoryJson, formatInventoryTable } from "../../src/report/format-inventory.ts";
import { fixtureItems, NOW } from "./report-fixture.ts";

describe("formatInventoryTable", () => {
  const text = formatInventoryTable(fixtureItems(), NOW);
  const lines = text.trimEnd().split("\n");

  it("lists every credential sorted by path under one header", () => {
    expect(lines[0]).toMatch(/^PATH +STATE +DEADLINE \(UTC\) +IN +PROVIDER +REASON$/);
    const paths = lines.slice(1, -1).map((l) => l.split(/\s+/)[0]);
    expect(paths).toHaveLength(12);
    expect(paths).toEqual([...paths].sort());
  });

  it("shows state, deadline, distance, provider and reason; marks stuck rotations", () => {
    const header = lines[0] ?? "";
    const row = lines.find((l) => l.startsWith("api/due-soon")) ?? "";
    expect(row.indexOf("due_soon")).toBe(header.indexOf("STATE"));
    expect(row.indexOf("2026-05-09 09:00")).toBe(header.indexOf("DEADLINE"));
    expect(row.indexOf("  in 5d")).toBe(header.indexOf("  IN "));
    expect(row).toMatch(/due in 5d$/);
    expect(lines.find((l) => l.startsWith("api/stuck"))).toContain("in_progress (stuck)");
    expect(lines.find((l) => l.startsWith("api/other-team"))).toContain("no provider key in custom_metadata");
  });

  it("ends with a count by state", () => {
    expect(lines.at(-1)).toBe(
      "12 credentials as of 2026-05-04 09:00 UTC: 1 unmanaged, 2 invalid, 1 failed, 1 in_progress, 1 awaiting_promotion, 1 flagged, 2 overdue, 1 unverified, 1 due_soon, 1 ok",
    );
  });

  it("prints only the footer for an empty inventory", () => {
    expect(formatInventoryTable([], NOW)).toBe("0 credentials as of 2026-05-04 09:00 UTC\n");
  });
});

describe("formatInventoryJson", () => {
  it("has a versioned shape with counts and every item sorted by path", () => {
    const json = JSON.parse(formatInventoryJson(fixtureItems(), NOW));
    expect(Object.keys(json)).toEqual(["schema", "generated_at", "count", "by_state", "items"]);
    expect(json).toMatchObject({
      schema: "eca-rotator/inventory@1",
      generated_at: "2026-05-04T09:00:00.000Z",
      count: 12,
    });
    expect(json.by_state).toMatchObject({ overdue: 2, invalid: 2, ok: 1, unmanaged: 1 });
    const paths = json.items.map((i: { path: string }) => i.path);
    expect(paths).toEqual([...paths].sort());
    expect(json.items.find((i: { path: string }) => i.path === "api/stuck")).toMatchObject({
      state: "in_progress",
      stuck: true,
    });
  });
});
