// The provider=manual rule over classified scan items: a KV version newer than rotation_verified_at is a manual
// rotation (recorded), a first sight is adopted without claiming a rotation, and metadata-only changes, deleted
// versions, other providers and already stamped versions change nothing.
import { describe, expect, it } from "vitest";
import { classifyEntry } from "../../../src/core/inventory/classify.ts";
import type { KvEntryMetadata } from "../../../src/core/inventory/kv-entry.ts";
import { manualAction, manualActions, notRotatedMessage } from "../../../src/core/manual/manual-actions.ts";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "../../../src/core/time.ts";
import { kvEntry } from "../../fakes/kv-entry-builder.ts";

const NOW = new Date("2026-05-04T09:00:00Z");
const DEFAULTS = { warningWindowMs: 14 * DAY_MS, stuckAfterMs: HOUR_MS, soakMs: 15 * MINUTE_MS };
const PATH = "api-credentials/vendor/payments";
const MANUAL = { provider: "manual", credential_type: "api_key", rotation_period: "90d" };
const STAMPED = "2026-01-10T08:00:00.000Z";
// What Vault reports: nanosecond digits.
const V3_CREATED = "2026-05-01T12:30:00.123456789Z";

function item(metadata: Record<string, string>, over: Partial<Omit<KvEntryMetadata, "path">> = {}) {
  return classifyEntry(
    kvEntry(PATH, metadata, {
      createdTime: "2025-11-01T00:00:00Z",
      currentVersion: 3,
      currentVersionCreatedTime: V3_CREATED,
      ...over,
    }),
    NOW,
    DEFAULTS,
  );
}

/** The metadata after the rotator stamped `at` (as the rule writes it). */
const stampedAt = (at: string) => ({ ...MANUAL, last_rotated: at, rotation_verified_at: at });

describe("manualAction", () => {
  it("records a KV version written after the last stamp as a manual rotation at the version's time", () => {
    const action = manualAction(
      item({ ...stampedAt(STAMPED), rotate: "now", rotate_reason: "INC-7", rotation_state: "failed" }),
    );
    expect(action).toMatchObject({ kind: "record", path: PATH, version: 3 });
    expect(action?.versionCreated.toISOString()).toBe("2026-05-01T12:30:00.123Z");
    expect(action?.patch).toEqual({
      last_rotated: "2026-05-01T12:30:00.123Z",
      rotation_verified_at: "2026-05-01T12:30:00.123Z",
      next_rotation_due: new Date(Date.parse("2026-05-01T12:30:00.123Z") + 90 * DAY_MS).toISOString(),
      rotation_state: "idle",
      rotate: null,
      rotate_reason: null,
      last_rotation_error: null,
    });
  });

  it("changes nothing once the current version is stamped, whatever the sub-millisecond digits", () => {
    expect(manualAction(item(stampedAt("2026-05-01T12:30:00.123Z")))).toBeUndefined();
    expect(manualAction(item(stampedAt(V3_CREATED)))).toBeUndefined();
  });

  it("ignores metadata-only changes: a newer updated_time without a newer version is not a rotation", () => {
    const stamped = stampedAt("2026-05-01T12:30:00.123Z");
    const patched = item(
      { ...stamped, consumers: "billing", rotate: "now" },
      { updatedTime: "2026-05-04T08:00:00Z" },
    );
    expect(manualAction(patched)).toBeUndefined();
  });

  it("leaves a credential whose current version is deleted or destroyed alone", () => {
    const deleted = item(stampedAt(STAMPED), { currentVersionDeleted: true });
    expect(deleted.state).toBe("invalid");
    expect(manualAction(deleted)).toBeUndefined();
  });

  it("leaves invalid metadata, unmanaged entries and other providers alone", () => {
    expect(manualAction(item({ ...stampedAt(STAMPED), risk: "extreme" }))).toBeUndefined();
    expect(manualAction(item({}))).toBeUndefined();
    const eca = { provider: "salesforce-eca", eca_app_name: "CRM", last_rotated: STAMPED };
    expect(manualAction(item({ ...eca, rotation_verified_at: STAMPED }))).toBeUndefined();
  });

  it("does nothing when the server did not report the current version's creation time", () => {
    expect(manualAction(item(stampedAt(STAMPED), { currentVersionCreatedTime: undefined }))).toBeUndefined();
  });

  it("adopts a credential seen for the first time without claiming a rotation: the deadline stays the same", () => {
    const first = item({ ...MANUAL });
    const action = manualAction(first);
    expect(action?.kind).toBe("adopt");
    expect(action?.patch).toEqual({
      rotation_verified_at: "2026-05-01T12:30:00.123Z",
      last_rotated: "2026-05-01T12:30:00.123Z",
      next_rotation_due: first.deadline?.toISOString(),
    });
    // After the stamp the same scan result (deadline and state) comes out, and nothing more is done.
    const after = item({ ...MANUAL, ...(action?.patch as Record<string, string>) });
    expect(after.deadline).toEqual(first.deadline);
    expect(after.state).toBe(first.state);
    expect(manualAction(after)).toBeUndefined();
  });

  it("keeps an operator's own last_rotated when adopting", () => {
    const action = manualAction(item({ ...MANUAL, last_rotated: "2026-04-01T00:00:00Z" }));
    expect(action?.kind).toBe("adopt");
    expect(action?.patch).toEqual({
      rotation_verified_at: "2026-05-01T12:30:00.123Z",
      next_rotation_due: new Date(Date.parse("2026-04-01T00:00:00Z") + 90 * DAY_MS).toISOString(),
    });
  });

  it("shows a hand-written last_rotated later than the newest KV version as unverified until the value is written", () => {
    const claimed = item({
      ...stampedAt("2026-05-01T12:30:00.123Z"),
      last_rotated: "2026-05-03T00:00:00Z",
    });
    expect(claimed.state).toBe("unverified");
    expect(manualAction(claimed)).toBeUndefined();
    const written = item(
      { ...stampedAt("2026-05-01T12:30:00.123Z"), last_rotated: "2026-05-03T00:00:00Z" },
      { currentVersion: 4, currentVersionCreatedTime: "2026-05-03T10:00:00Z" },
    );
    expect(manualAction(written)?.patch["last_rotated"]).toBe("2026-05-03T10:00:00.000Z");
  });

  it("caps next_rotation_due by expires_at", () => {
    const action = manualAction(item({ ...stampedAt(STAMPED), expires_at: "2026-06-01T00:00:00Z" }));
    expect(action?.patch["next_rotation_due"]).toBe("2026-06-01T00:00:00.000Z");
  });
});

describe("manualActions", () => {
  it("returns one action per manual credential that needs one, in scan order", () => {
    const items = [
      item(stampedAt(STAMPED)),
      item(stampedAt(V3_CREATED)),
      { ...item({ ...MANUAL }), path: "api-credentials/vendor/other" },
    ];
    expect(manualActions(items).map((a) => [a.kind, a.path])).toEqual([
      ["record", PATH],
      ["adopt", "api-credentials/vendor/other"],
    ]);
  });
});

describe("notRotatedMessage", () => {
  it("tells what to do instead for a manual credential, and names any other provider", () => {
    expect(notRotatedMessage("manual")).toBe(
      "provider manual has no rotation API: rotate it at the provider, then write the new value to KV; the rotator records it",
    );
    expect(notRotatedMessage("sfmc")).toBe("provider sfmc is not rotated in this release");
  });
});
