import { describe, expect, it } from "vitest";
import {
  type ClassifyDefaults,
  classifyEntry,
  classifyScanItem,
} from "../../../src/core/inventory/classify.ts";
import { CREDENTIAL_STATES } from "../../../src/core/inventory/inventory-item.ts";
import { DAY_MS, FixedClock, HOUR_MS, MINUTE_MS, SECOND_MS } from "../../../src/core/time.ts";
import { kvEntry } from "../../fakes/kv-entry-builder.ts";

const clock = new FixedClock("2026-05-04T09:00:00Z");
const NOW = clock.now();
const DEFAULTS: ClassifyDefaults = {
  warningWindowMs: 14 * DAY_MS,
  stuckAfterMs: HOUR_MS,
  soakMs: 15 * MINUTE_MS,
};
const ECA = { provider: "salesforce-eca", eca_app_name: "CRM_Integration" };

const at = (msFromNow: number): string => new Date(NOW.getTime() + msFromNow).toISOString();
/** A 30-day period whose deadline is `msToDeadline` from now. */
const dueIn = (msToDeadline: number) => ({
  rotation_period: "30d",
  last_rotated: at(msToDeadline - 30 * DAY_MS),
});
const verified = (meta: { last_rotated: string; rotation_period: string }) => ({
  ...meta,
  rotation_verified_at: meta.last_rotated,
});

function classify(metadata: Record<string, string>, overrides: Parameters<typeof kvEntry>[2] = {}) {
  return classifyEntry(kvEntry("api-credentials/acme/prod", metadata, overrides), NOW, DEFAULTS);
}

describe("classifyEntry states", () => {
  it.each([
    ["no provider", {}, "unmanaged"],
    ["unparseable metadata", { ...ECA, risk: "extreme" }, "invalid"],
    ["a failed rotation", { ...ECA, ...verified(dueIn(100 * DAY_MS)), rotation_state: "failed" }, "failed"],
    [
      "a rotation in progress",
      { ...ECA, ...verified(dueIn(100 * DAY_MS)), rotation_state: "in_progress" },
      "in_progress",
    ],
    [
      "a rotation awaiting promotion",
      { ...ECA, ...dueIn(100 * DAY_MS), rotation_state: "awaiting_promotion" },
      "awaiting_promotion",
    ],
    ["a rotate flag", { ...ECA, ...verified(dueIn(100 * DAY_MS)), rotate: "now" }, "flagged"],
    ["an emergency flag", { ...ECA, ...verified(dueIn(100 * DAY_MS)), rotate: "emergency" }, "flagged"],
    ["a passed deadline", { ...ECA, ...verified(dueIn(-DAY_MS)) }, "overdue"],
    ["a publish never verified", { ...ECA, ...dueIn(100 * DAY_MS) }, "unverified"],
    [
      "a verification older than the publish",
      { ...ECA, ...dueIn(100 * DAY_MS), rotation_verified_at: at(-80 * DAY_MS) },
      "unverified",
    ],
    ["a deadline inside the warning window", { ...ECA, ...verified(dueIn(3 * DAY_MS)) }, "due_soon"],
    ["a deadline far away", { ...ECA, ...verified(dueIn(20 * DAY_MS)) }, "ok"],
    ["an explicit idle state", { ...ECA, ...verified(dueIn(20 * DAY_MS)), rotation_state: "idle" }, "ok"],
  ])("%s → %s", (_why, metadata, state) => {
    expect(classify(metadata).state).toBe(state);
  });

  it("covers every state of the closed set in the table above", () => {
    expect(CREDENTIAL_STATES).toHaveLength(10);
  });
});

describe("classifyEntry precedence", () => {
  it.each([
    ["unmanaged beats a deleted version", {}, { currentVersionDeleted: true }, "unmanaged"],
    ["invalid beats failed", { ...ECA, rotation_state: "failed", risk: "??" }, {}, "invalid"],
    [
      "a deleted current version beats failed",
      { ...ECA, rotation_state: "failed" },
      { currentVersionDeleted: true },
      "invalid",
    ],
    ["failed beats a rotate flag", { ...ECA, rotation_state: "failed", rotate: "now" }, {}, "failed"],
    ["failed beats overdue", { ...ECA, ...dueIn(-DAY_MS), rotation_state: "failed" }, {}, "failed"],
    [
      "in progress beats a rotate flag",
      { ...ECA, rotation_state: "in_progress", rotate: "now" },
      {},
      "in_progress",
    ],
    [
      "in progress beats overdue",
      { ...ECA, ...dueIn(-DAY_MS), rotation_state: "in_progress" },
      {},
      "in_progress",
    ],
    [
      "awaiting promotion beats overdue",
      { ...ECA, ...dueIn(-DAY_MS), rotation_state: "awaiting_promotion" },
      {},
      "awaiting_promotion",
    ],
    ["flagged beats overdue", { ...ECA, ...dueIn(-DAY_MS), rotate: "emergency" }, {}, "flagged"],
    ["overdue beats unverified", { ...ECA, ...dueIn(-DAY_MS) }, {}, "overdue"],
    ["unverified beats due soon", { ...ECA, ...dueIn(DAY_MS) }, {}, "unverified"],
  ])("%s", (_why, metadata, overrides, state) => {
    expect(classify(metadata, overrides).state).toBe(state);
  });
});

describe("classifyEntry window boundaries", () => {
  it.each([
    ["exactly at the deadline", 0, "overdue"],
    ["one second before the deadline", SECOND_MS, "due_soon"],
    ["one second after the deadline", -SECOND_MS, "overdue"],
    ["exactly at the start of the warning window", 14 * DAY_MS, "due_soon"],
    ["one second before the warning window", 14 * DAY_MS + SECOND_MS, "ok"],
  ])("%s", (_why, msToDeadline, state) => {
    expect(classify({ ...ECA, ...verified(dueIn(msToDeadline)) }).state).toBe(state);
  });

  it("uses the credential's own warning window over the default", () => {
    const meta = { ...ECA, ...verified(dueIn(20 * DAY_MS)) };
    expect(classify({ ...meta, warning_window: "21d" }).state).toBe("due_soon");
    expect(classify({ ...meta, warning_window: "21d" }).warningWindowMs).toBe(21 * DAY_MS);
    expect(classify({ ...ECA, ...verified(dueIn(HOUR_MS)), warning_window: "0s" }).state).toBe("ok");
  });

  it("counts a verification exactly at the publish time as verified", () => {
    const meta = { ...ECA, ...dueIn(20 * DAY_MS) };
    expect(classify({ ...meta, rotation_verified_at: meta.last_rotated }).state).toBe("ok");
  });

  it("goes due soon when expires_at comes first, and says so", () => {
    const item = classify({ ...ECA, ...verified(dueIn(100 * DAY_MS)), expires_at: at(5 * DAY_MS) });
    expect(item).toMatchObject({ state: "due_soon", cappedByExpiry: true, reason: "due in 5d (expires_at)" });
  });
});

describe("classifyEntry item fields", () => {
  it("fills in the deadline and what it was counted from", () => {
    const item = classify({
      ...ECA,
      credential_type: "api_key",
      risk: "high",
      consumers: "billing, crm",
      rotation_contact: "#ops",
      last_rotated: at(-40 * DAY_MS),
      rotation_verified_at: at(-40 * DAY_MS),
    });
    expect(item).toMatchObject({
      path: "api-credentials/acme/prod",
      state: "overdue",
      reason: "deadline passed 10d ago",
      provider: "salesforce-eca",
      credentialType: "api_key",
      risk: "high",
      deadline: new Date(NOW.getTime() - 10 * DAY_MS),
      deadlineBasis: "last_rotated",
      periodMs: 30 * DAY_MS,
      periodSource: "schedule",
      cappedByExpiry: false,
      secondsToDeadline: -10 * 86_400,
      consumers: ["billing", "crm"],
      contact: "#ops",
      rotationState: "idle",
      stuck: false,
      currentVersion: 1,
    });
  });

  it("counts from the current version's creation when never rotated", () => {
    const item = classify(ECA, {
      currentVersionCreatedTime: at(-170 * DAY_MS),
      createdTime: at(-400 * DAY_MS),
    });
    expect(item).toMatchObject({
      state: "due_soon",
      deadlineBasis: "version_created",
      secondsToDeadline: 10 * 86_400,
    });
  });

  it("carries the trigger and the last error", () => {
    expect(classify({ ...ECA, rotate: "emergency", rotate_reason: "INC-7" })).toMatchObject({
      state: "flagged",
      reason: "rotate=emergency requested",
      trigger: { mode: "emergency", reason: "INC-7" },
    });
    expect(
      classify({ ...ECA, rotation_state: "failed", last_rotation_error: "SALESFORCE_NOT_FOUND: gone" }),
    ).toMatchObject({
      state: "failed",
      lastError: "SALESFORCE_NOT_FOUND: gone",
    });
  });

  it("keeps provider, consumers and contact of an invalid entry", () => {
    const item = classify({ ...ECA, rotation_period: "banana", consumers: "a", rotation_contact: "#ops" });
    expect(item).toMatchObject({
      state: "invalid",
      provider: "salesforce-eca",
      consumers: ["a"],
      contact: "#ops",
    });
    expect(item.reason).toContain("rotation_period");
  });

  it("says which version is deleted", () => {
    const item = classify(ECA, { currentVersion: 4, currentVersionDeleted: true });
    expect(item).toMatchObject({ state: "invalid", reason: "current version 4 is deleted or destroyed" });
  });

  it("is invalid when no time in the metadata is readable", () => {
    const item = classify(ECA, { createdTime: "", currentVersionCreatedTime: undefined });
    expect(item).toMatchObject({
      state: "invalid",
      reason: expect.stringContaining("no readable creation time"),
    });
  });
});

describe("classifyEntry stuck rotations", () => {
  it.each([
    ["in progress, unchanged 61m", "in_progress", {}, 61 * MINUTE_MS, true],
    ["in progress, unchanged exactly 60m", "in_progress", {}, 60 * MINUTE_MS, false],
    ["in progress, unchanged 5m", "in_progress", {}, 5 * MINUTE_MS, false],
    [
      "awaiting promotion, unchanged 70m (soak 15m + 1h allowed)",
      "awaiting_promotion",
      {},
      70 * MINUTE_MS,
      false,
    ],
    ["awaiting promotion, unchanged 80m", "awaiting_promotion", {}, 80 * MINUTE_MS, true],
    [
      "awaiting promotion with a 2h soak, unchanged 80m",
      "awaiting_promotion",
      { soak: "2h" },
      80 * MINUTE_MS,
      false,
    ],
    ["failed, unchanged for days", "failed", {}, 5 * DAY_MS, false],
    ["idle, unchanged for days", "idle", {}, 5 * DAY_MS, false],
  ])("%s → stuck %s", (_why, rotationState, extra, unchangedMs, stuck) => {
    const item = classify(
      { ...ECA, rotation_state: rotationState, ...extra },
      { updatedTime: at(-unchangedMs) },
    );
    expect(item.stuck).toBe(stuck);
    if (stuck) expect(item.reason).toContain("(stuck)");
  });

  it.each([
    [
      "a generated secret whose overlap waits for an operator (confirm_by=flag)",
      { provider: "generated", confirm_by: "flag" },
      "waiting for an operator's rotate=now once the sender uses it",
    ],
    [
      "a Marketing Cloud secret waiting for its activation in Setup",
      { provider: "sfmc" },
      "activate it in Setup once the soak is over, then set rotate=now",
    ],
  ])("is never stuck while %s, and says what it waits for", (_why, meta, words) => {
    const item = classify(
      { ...ECA, ...meta, rotation_state: "awaiting_promotion" },
      { updatedTime: at(-10 * DAY_MS) },
    );
    expect(item).toMatchObject({ state: "awaiting_promotion", stuck: false });
    expect(item.reason).toContain(words);
    expect(item.reason).not.toContain("stuck");
  });

  it("calls a generated overlap that ends after its soak stuck once it has long outlived the soak", () => {
    const item = classify(
      { ...ECA, provider: "generated", rotation_state: "awaiting_promotion" },
      { updatedTime: at(-80 * MINUTE_MS) },
    );
    expect(item).toMatchObject({ stuck: true });
    expect(item.reason).toContain("both accepted until the soak ends");
  });

  it("is not stuck when the update time is unreadable", () => {
    expect(classify({ ...ECA, rotation_state: "in_progress" }, { updatedTime: "?" }).stuck).toBe(false);
  });

  it("moves with the injected clock", () => {
    const moving = new FixedClock("2026-05-04T09:00:00Z");
    const entry = kvEntry(
      "p",
      { ...ECA, rotation_state: "in_progress" },
      { updatedTime: "2026-05-04T09:00:00Z" },
    );
    expect(classifyEntry(entry, moving.now(), DEFAULTS).stuck).toBe(false);
    moving.advance(2 * HOUR_MS);
    expect(classifyEntry(entry, moving.now(), DEFAULTS).stuck).toBe(true);
  });
});

describe("classifyScanItem", () => {
  it("classifies an entry like classifyEntry", () => {
    const entry = kvEntry("a/b", {});
    expect(classifyScanItem({ kind: "entry", entry }, NOW, DEFAULTS)).toEqual(
      classifyEntry(entry, NOW, DEFAULTS),
    );
  });

  it("marks an unreadable entry invalid with the code and message", () => {
    const item = classifyScanItem(
      {
        kind: "unreadable",
        path: "a/b",
        code: "VAULT_PERMISSION_DENIED",
        message: "permission denied on secret/metadata/a/b",
      },
      NOW,
      DEFAULTS,
    );
    expect(item).toEqual({
      path: "a/b",
      state: "invalid",
      reason: "unreadable (VAULT_PERMISSION_DENIED): permission denied on secret/metadata/a/b",
      consumers: [],
      stuck: false,
    });
  });

  it("cleans and shortens an odd unreadable message", () => {
    const item = classifyScanItem(
      { kind: "unreadable", path: "a", code: "X", message: `\u001b[2J${"m".repeat(500)}` },
      NOW,
      DEFAULTS,
    );
    expect(item.reason).not.toContain("\u001b");
    expect(item.reason?.length).toBeLessThan(300);
  });
});
