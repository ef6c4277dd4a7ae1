import { describe, expect, it } from "vitest";
import { classifyEntry, DEFAULT_CLASSIFY_DEFAULTS } from "../../../src/core/inventory/classify.ts";
import { PROVIDERS } from "../../../src/core/providers/provider-registry.ts";
import { decideRotation } from "../../../src/core/rotation/rotation-decision.ts";
import { kvEntry } from "../../fakes/kv-entry-builder.ts";

const NOW = new Date("2026-06-15T12:00:00Z");
const DAY = 86_400_000;
const ago = (days: number) => new Date(NOW.getTime() - days * DAY).toISOString();

/** An ECA credential rotated `daysAgo` (180-day period by the schedule table) with extra metadata. */
function decide(daysAgo: number, extra: Record<string, string> = {}) {
  const meta = {
    provider: "salesforce-eca",
    eca_app_name: "App",
    last_rotated: ago(daysAgo),
    rotation_verified_at: ago(daysAgo),
    ...extra,
  };
  return decideRotation(
    classifyEntry(kvEntry("api-credentials/x", meta), NOW, DEFAULT_CLASSIFY_DEFAULTS),
    NOW,
    PROVIDERS,
  );
}

describe("decideRotation", () => {
  it.each([
    ["a healthy credential", 10, {}, false, /not due for 169d/],
    ["one inside the warning window but more than a day from its deadline", 170, {}, false, /not due for 9d/],
    ["one less than a day from its deadline", 179.5, {}, true, /scheduled: deadline in 12h/],
    ["an overdue one", 200, {}, true, /scheduled: overdue by 20d/],
    ["an overdue one with auto_rotate=false", 200, { auto_rotate: "false" }, false, /auto_rotate=false/],
    [
      "an overdue one outside its rotate_window",
      200,
      { rotate_window: "02:00-04:00" },
      false,
      /waiting for rotate_window 02:00-04:00/,
    ],
    ["an overdue one inside its rotate_window", 200, { rotate_window: "11:30-12:30" }, true, /scheduled/],
    [
      "an overdue one whose window wraps midnight and includes now",
      200,
      { rotate_window: "22:00-13:00" },
      true,
      /scheduled/,
    ],
    ["a failed one", 200, { rotation_state: "failed" }, false, /set rotate=now to try again/],
    ["one with a rotation under way", 200, { rotation_state: "awaiting_promotion" }, false, /under way/],
    ["an entry with an empty provider", 200, { provider: "" }, false, /invalid metadata/],
  ])("%s → act=%s", (_name, daysAgo, extra, act, reason) => {
    const d = decide(daysAgo, extra);
    expect(d.act).toBe(act);
    expect(d.reason).toMatch(reason);
  });

  it("acts on a flag at once, whatever the deadline, window, auto_rotate or a past failure", () => {
    const d = decide(1, {
      rotate: "emergency",
      rotate_reason: "INC-7",
      rotate_window: "02:00-03:00",
      auto_rotate: "false",
      rotation_state: "failed",
    });
    expect(d).toEqual({
      act: true,
      mode: "emergency",
      trigger: "flag",
      reason: "rotate=emergency requested: INC-7",
    });
    expect(decide(1, { rotate: "now" })).toMatchObject({ act: true, mode: "standard", trigger: "flag" });
  });

  it("leaves a flag alone while a rotation is under way (the journal finishes it first)", () => {
    expect(decide(1, { rotate: "now", rotation_state: "in_progress" })).toMatchObject({
      act: false,
      reason: expect.stringMatching(/under way/),
    });
  });

  it("acts on rotate=emergency during a rotation (ending its waits), but not on rotate=now", () => {
    expect(
      decide(1, { rotate: "emergency", rotate_reason: "leaked", rotation_state: "awaiting_promotion" }),
    ).toEqual({
      act: true,
      mode: "emergency",
      trigger: "flag",
      reason: "rotate=emergency during the soak: leaked: promote now",
    });
    expect(decide(1, { rotate: "now", rotation_state: "awaiting_promotion" })).toMatchObject({ act: false });
    expect(decide(1, { rotate: "emergency", rotation_state: "in_progress" })).toEqual({
      act: true,
      mode: "emergency",
      trigger: "flag",
      reason: "rotate=emergency during a rotation: end its waits now",
    });
    expect(decide(1, { rotate: "now", rotation_state: "in_progress" })).toMatchObject({ act: false });
  });

  it("acts on rotate=now during a soak that waits for readers (soak_until=readers): promote now", () => {
    expect(
      decide(1, {
        rotate: "now",
        rotate_reason: "ok",
        soak_until: "readers",
        rotation_state: "awaiting_promotion",
      }),
    ).toEqual({
      act: true,
      mode: "standard",
      trigger: "flag",
      reason: "rotate=now while the soak waits for readers: ok: promote now",
    });
    // The config default counts as well as the metadata key; a time soak still leaves rotate=now for later.
    const meta = {
      provider: "salesforce-eca",
      eca_app_name: "App",
      rotate: "now",
      rotation_state: "awaiting_promotion",
    };
    const entry = kvEntry("api-credentials/x", meta);
    const readers = { ...DEFAULT_CLASSIFY_DEFAULTS, soakUntil: "readers" as const };
    expect(decideRotation(classifyEntry(entry, NOW, readers), NOW, PROVIDERS)).toMatchObject({ act: true });
    expect(
      decideRotation(classifyEntry(entry, NOW, DEFAULT_CLASSIFY_DEFAULTS), NOW, PROVIDERS),
    ).toMatchObject({
      act: false,
    });
    expect(decide(1, { rotate: "now", soak_until: "readers", rotation_state: "in_progress" })).toMatchObject({
      act: false,
    });
  });

  it("leaves another deployment's rotation alone, even an emergency flag during its soak", () => {
    const meta = {
      provider: "salesforce-eca",
      eca_app_name: "App",
      rotate: "emergency",
      rotation_state: "awaiting_promotion",
    };
    const item = classifyEntry(kvEntry("api-credentials/x", meta), NOW, DEFAULT_CLASSIFY_DEFAULTS);
    const d = decideRotation(
      { ...item, noJournalHere: true, reason: "another deployment is rotating it" },
      NOW,
      PROVIDERS,
    );
    expect(d).toEqual({ act: false, reason: "another deployment is rotating it" });
  });

  it("says when a waiting credential becomes due: the deadline less a day, or the next window opening", () => {
    const notDue = decide(10);
    expect(notDue.act === false && notDue.notBefore?.toISOString()).toBe(
      new Date(NOW.getTime() + 169 * DAY).toISOString(),
    );
    const waiting = decide(200, { rotate_window: "02:00-04:00" });
    expect(waiting.act === false && waiting.notBefore?.toISOString()).toBe("2026-06-16T02:00:00.000Z");
    const laterToday = decide(200, { rotate_window: "18:15-19:00" });
    expect(laterToday.act === false && laterToday.notBefore?.toISOString()).toBe("2026-06-15T18:15:00.000Z");
  });

  it("starts at the deadline when the warning window is zero", () => {
    expect(decide(179.5, { warning_window: "0s" }).act).toBe(false);
    expect(decide(180, { warning_window: "0s" }).act).toBe(true);
  });

  it("never touches an unmanaged entry", () => {
    const item = classifyEntry(
      kvEntry("api-credentials/notes", { rotate: "now", last_rotated: ago(400) }),
      NOW,
      DEFAULT_CLASSIFY_DEFAULTS,
    );
    expect(decideRotation(item, NOW, PROVIDERS)).toEqual({
      act: false,
      reason: "unmanaged: eca-rotator never writes to it",
    });
  });

  it("never acts on invalid metadata", () => {
    const d = decide(400, { rotation_period: "banana" });
    expect(d.act).toBe(false);
    expect(d.reason).toMatch(/^invalid metadata: rotation_period/);
  });
});
