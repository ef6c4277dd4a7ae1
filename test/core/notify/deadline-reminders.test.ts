// deadlineReminders over classified scan items: due_soon in the warning window, overdue at the deadline, then a
// numbered reminder each notifications.overdue_repeat while it stays overdue; one message per period by key.
import { describe, expect, it } from "vitest";
import { classifyEntry } from "../../../src/core/inventory/classify.ts";
import { buildChatMessage } from "../../../src/core/notify/chat-message.ts";
import { deadlineReminders, reminderNumber } from "../../../src/core/notify/deadline-reminders.ts";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "../../../src/core/time.ts";
import { kvEntry } from "../../fakes/kv-entry-builder.ts";

const DEFAULTS = { warningWindowMs: 14 * DAY_MS, stuckAfterMs: HOUR_MS, soakMs: 15 * MINUTE_MS };
const LAST = "2026-01-01T00:00:00.000Z";
const DEADLINE = new Date(Date.parse(LAST) + 90 * DAY_MS);
const MANUAL = {
  provider: "manual",
  credential_type: "api_key",
  last_rotated: LAST,
  rotation_verified_at: LAST,
  consumers: "billing",
  rotation_contact: "#payments",
};
const WEEK = 7 * DAY_MS;

const atOffset = (ms: number) => new Date(DEADLINE.getTime() + ms);
function itemsAt(at: Date, metadata: Record<string, string> = MANUAL) {
  return [classifyEntry(kvEntry("api-credentials/vendor/pay", metadata), at, DEFAULTS)];
}
function remindersAt(ms: number, repeat: number | "off" = WEEK, metadata?: Record<string, string>) {
  const at = atOffset(ms);
  return deadlineReminders(itemsAt(at, metadata), at, {
    overdueRepeatMs: repeat === "off" ? undefined : repeat,
  });
}
const keysAt = (ms: number, repeat: number | "off" = WEEK) =>
  remindersAt(ms, repeat).map((e) => buildChatMessage(e).dedupKey);

describe("deadlineReminders", () => {
  it("says nothing before the warning window, due_soon inside it, overdue from the deadline on", () => {
    expect(remindersAt(-20 * DAY_MS)).toEqual([]);
    expect(remindersAt(-3 * DAY_MS).map((e) => e.kind)).toEqual(["credential.due_soon"]);
    expect(remindersAt(0).map((e) => e.kind)).toEqual(["credential.overdue"]);
    const [overdue] = remindersAt(HOUR_MS);
    expect(overdue).toMatchObject({
      kind: "credential.overdue",
      deadline: DEADLINE,
      credential: { path: "api-credentials/vendor/pay", provider: "manual", consumers: ["billing"] },
    });
    expect(overdue?.reminder).toBeUndefined();
  });

  it("keeps one key per repeat period: the same within a period, a new one each period after the deadline", () => {
    const first = keysAt(HOUR_MS);
    expect(keysAt(6 * DAY_MS)).toEqual(first);
    const week1 = keysAt(WEEK + HOUR_MS);
    expect(week1).not.toEqual(first);
    expect(keysAt(WEEK + 5 * DAY_MS)).toEqual(week1);
    expect(keysAt(2 * WEEK)).toEqual([`${first[0]}:2`]);
    expect(remindersAt(3 * WEEK + 1)[0]?.reminder).toBe(3);
  });

  it("never repeats with overdue_repeat off", () => {
    expect(keysAt(30 * DAY_MS, "off")).toEqual(keysAt(HOUR_MS, "off"));
    expect(remindersAt(30 * DAY_MS, "off")[0]?.reminder).toBeUndefined();
  });

  it("keeps reminding the owner of a manual credential that carries a rotate flag", () => {
    const flagged = { ...MANUAL, rotate: "now" };
    expect(remindersAt(WEEK, WEEK, flagged)).toMatchObject([{ kind: "credential.overdue", reminder: 1 }]);
    expect(remindersAt(-DAY_MS, WEEK, flagged)).toMatchObject([{ kind: "credential.due_soon" }]);
    expect(remindersAt(-20 * DAY_MS, WEEK, flagged)).toEqual([]);
    const eca = { provider: "salesforce-eca", eca_app_name: "CRM", last_rotated: LAST, rotate: "now" };
    expect(remindersAt(WEEK, WEEK, eca)).toEqual([]);
  });

  it("leaves out the paths it is told to skip", () => {
    const at = atOffset(DAY_MS);
    const skip = new Set(["api-credentials/vendor/pay"]);
    expect(deadlineReminders(itemsAt(at), at, { overdueRepeatMs: WEEK, skip })).toEqual([]);
  });
});

describe("reminderNumber", () => {
  it("counts whole repeat periods since the deadline, 0 before it or without repeats", () => {
    expect(reminderNumber(DEADLINE, atOffset(-DAY_MS), WEEK)).toBe(0);
    expect(reminderNumber(DEADLINE, atOffset(WEEK - 1), WEEK)).toBe(0);
    expect(reminderNumber(DEADLINE, atOffset(WEEK), WEEK)).toBe(1);
    expect(reminderNumber(DEADLINE, atOffset(100 * WEEK), undefined)).toBe(0);
  });
});
