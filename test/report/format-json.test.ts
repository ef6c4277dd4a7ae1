import { describe, expect, it } from "vitest";
import { formatReportJson } from "../../src/report/format-json.ts";
import { itemToJson } from "../../src/report/item-json.ts";
import { fixtureReport } from "./report-fixture.ts";

const ITEM_KEYS = [
  "path",
  "state",
  "reason",
  "provider",
  "credential_type",
  "risk",
  "deadline",
  "seconds_to_deadline",
  "deadline_basis",
  "period_seconds",
  "period_source",
  "capped_by_expiry",
  "expires_at",
  "warning_window_seconds",
  "last_rotated",
  "rotation_verified_at",
  "rotation_state",
  "last_rotation_error",
  "auto_rotate",
  "consumers",
  "rotation_contact",
  "trigger",
  "stuck",
  "current_version",
  "updated_time",
  "readers",
];

describe("formatReportJson", () => {
  const text = formatReportJson(fixtureReport());
  const json = JSON.parse(text);

  it("has a versioned, stable top-level shape", () => {
    expect(Object.keys(json)).toEqual(["schema", "generated_at", "totals", "sections", "readers"]);
    expect(json.schema).toBe("eca-rotator/expiry-report@1");
    expect(json.generated_at).toBe("2026-05-04T09:00:00.000Z");
    expect(json.totals).toMatchObject({
      all: 12,
      managed: 11,
      unmanaged: 1,
      needing_attention: 10,
      stuck: 1,
    });
    expect(Object.keys(json.totals.by_state)).toHaveLength(10);
    expect(text.endsWith("}\n")).toBe(true);
  });

  it("lists every section with its count, ok and unmanaged included", () => {
    expect(json.sections.map((s: { id: string; count: number }) => [s.id, s.count])).toEqual([
      ["overdue", 2],
      ["due_soon", 1],
      ["failed", 1],
      ["unverified", 1],
      ["stuck", 1],
      ["invalid", 2],
      ["flagged", 1],
      ["in_progress", 1],
      ["ok", 1],
      ["unmanaged", 1],
    ]);
  });

  it("gives every item every key, with ISO dates and null for what is unknown", () => {
    for (const section of json.sections) {
      for (const item of section.items) expect(Object.keys(item)).toEqual(ITEM_KEYS);
    }
    const overdue = json.sections[0].items[0];
    expect(overdue).toMatchObject({
      path: "api/overdue-a",
      state: "overdue",
      deadline: "2026-04-24T09:00:00.000Z",
      seconds_to_deadline: -10 * 86_400,
      deadline_basis: "last_rotated",
      period_seconds: 30 * 86_400,
      period_source: "rotation_period",
      consumers: ["billing", "crm"],
      rotation_contact: "#billing",
      trigger: null,
      last_rotation_error: null,
    });
    const unmanaged = json.sections[9].items[0];
    expect(unmanaged).toMatchObject({
      state: "unmanaged",
      provider: null,
      deadline: null,
      seconds_to_deadline: null,
    });
    const flagged = json.sections[6].items[0];
    expect(flagged.trigger).toEqual({ mode: "emergency", reason: "INC-9" });
  });

  it("gives a credential's expires_at (an sfmc secret's hard expiry) as an ISO date, null when there is none", () => {
    const base = { path: "mc/sync", state: "ok", provider: "sfmc", consumers: [], stuck: false } as const;
    expect(itemToJson({ ...base, expiresAt: new Date("2027-03-01T10:00:00Z") }).expires_at).toBe(
      "2027-03-01T10:00:00.000Z",
    );
    expect(itemToJson(base).expires_at).toBeNull();
    expect(json.sections[0].items[0].expires_at).toBeNull();
  });
});
