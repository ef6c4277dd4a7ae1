import { describe, expect, it } from "vitest";
import { classifyEntry, DEFAULT_CLASSIFY_DEFAULTS } from "../../../../src/core/inventory/classify.ts";
import { mayHoldNewPending, pendingDecision } from "../../../../src/core/providers/sfmc/sfmc-pickup.ts";
import type { StoredCredential } from "../../../../src/core/rotation/rotation-ports.ts";
import { SecretValue } from "../../../../src/core/secret-value.ts";
import { kvEntry } from "../../../fakes/kv-entry-builder.ts";

const NOW = new Date("2026-06-15T12:00:00Z");
const SFMC = { provider: "sfmc", sfmc_tenant: "t" };

/** An entry whose current version was written at `written` and whose metadata was last changed at `updated`. */
function item(meta: Record<string, string>, written: string, updated = written) {
  const entry = kvEntry("api-credentials/mc", meta, {
    currentVersion: 3,
    createdTime: "2026-01-01T00:00:00Z",
    currentVersionCreatedTime: written,
    updatedTime: updated,
  });
  return classifyEntry(entry, NOW, DEFAULT_CLASSIFY_DEFAULTS);
}

describe("mayHoldNewPending", () => {
  it.each([
    ["never rotated: any version may hold a paste", {}, "2026-06-15T11:00:00Z", undefined, true],
    [
      "a version written after the last verified rotation",
      { last_rotated: "2026-06-01T00:00:00Z", rotation_verified_at: "2026-06-01T00:10:00Z" },
      "2026-06-15T11:00:00Z",
      undefined,
      true,
    ],
    [
      "the version the last rotation wrote itself (verified after it)",
      { last_rotated: "2026-06-01T00:00:00Z", rotation_verified_at: "2026-06-01T00:10:00Z" },
      "2026-06-01T00:05:00Z",
      "2026-06-01T00:10:00Z",
      false,
    ],
    [
      "failed, and nothing written since the failure",
      { rotation_state: "failed" },
      "2026-06-15T11:00:00Z",
      "2026-06-15T11:01:00Z",
      false,
    ],
    [
      "failed, then a new paste (the last change is a KV write)",
      { rotation_state: "failed" },
      "2026-06-15T11:05:00Z",
      "2026-06-15T11:05:00Z",
      true,
    ],
    ["a rotation under way", { rotation_state: "in_progress" }, "2026-06-15T11:00:00Z", undefined, false],
    [
      "published, waiting for activation",
      { rotation_state: "awaiting_promotion" },
      "2026-06-15T11:00:00Z",
      undefined,
      false,
    ],
    ["flagged: the flag starts it anyway", { rotate: "now" }, "2026-06-15T11:00:00Z", undefined, false],
  ])("%s → %s", (_why, meta, written, updated, expected) => {
    expect(mayHoldNewPending(item({ ...SFMC, ...meta }, written, updated), false)).toBe(expected);
  });

  it("never for another provider, nor when a journal (a parked rotation) exists", () => {
    const generated = item({ provider: "generated" }, "2026-06-15T11:00:00Z");
    expect(mayHoldNewPending(generated, false)).toBe(false);
    expect(mayHoldNewPending(item(SFMC, "2026-06-15T11:00:00Z"), true)).toBe(false);
  });

  it("never for invalid metadata", () => {
    const bad = item({ ...SFMC, rotation_period: "soon" }, "2026-06-15T11:00:00Z");
    expect(bad.state).toBe("invalid");
    expect(mayHoldNewPending(bad, false)).toBe(false);
  });
});

describe("pendingDecision", () => {
  const cred = (data: StoredCredential["data"]): StoredCredential => ({
    version: 7,
    data,
    customMetadata: SFMC,
  });

  it("starts a standard rotation when pending_api_key holds a secret (the scan starts it as trigger pending)", () => {
    const d = pendingDecision(cred({ pending_api_key: SecretValue.of("test-secret-canary-pickup") }));
    expect(d).toEqual({
      mode: "standard",
      reason: "a staged secret was pasted into pending_api_key (KV version 7)",
    });
    expect(JSON.stringify(d)).not.toContain("canary");
  });

  it.each([
    ["absent", {}],
    ["emptied by the last publish", { pending_api_key: SecretValue.of("") }],
  ])("starts nothing when pending_api_key is %s", (_why, data) => {
    expect(pendingDecision(cred(data))).toBeUndefined();
  });
});
