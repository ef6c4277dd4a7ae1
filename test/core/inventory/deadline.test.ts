import { describe, expect, it } from "vitest";
import {
  type CredentialPolicy,
  parseCredentialPolicy,
} from "../../../src/core/inventory/credential-policy.ts";
import {
  computeDeadline,
  SCHEDULE_TABLE_DAYS,
  schedulePeriodMs,
} from "../../../src/core/inventory/deadline.ts";
import { PROVIDERS } from "../../../src/core/providers/provider-registry.ts";
import { DAY_MS } from "../../../src/core/time.ts";

function policy(metadata: Record<string, string>): CredentialPolicy {
  const result = parseCredentialPolicy({ provider: "manual", ...metadata }, PROVIDERS);
  if (result.kind !== "managed") throw new Error(`expected managed: ${JSON.stringify(result)}`);
  return result.policy;
}

const ENTRY = { createdTime: "2025-06-01T00:00:00Z", currentVersionCreatedTime: "2026-01-01T00:00:00Z" };

describe("schedule table", () => {
  it.each([
    ["api_key", "standard", 90],
    ["api_key", "high", 30],
    ["oauth_client_secret", "standard", 180],
    ["oauth_client_secret", "high", 90],
    ["service_account_token", "standard", 90],
    ["service_account_token", "high", 30],
    ["database", "standard", 90],
    ["database", "high", 30],
    ["webhook_secret", "standard", 180],
    ["webhook_secret", "high", 90],
  ] as const)("gives %s at %s risk %d days", (type, risk, days) => {
    expect(SCHEDULE_TABLE_DAYS[type][risk]).toBe(days);
    expect(schedulePeriodMs(type, risk)).toBe(days * DAY_MS);
    const deadline = computeDeadline(policy({ credential_type: type, risk }), ENTRY);
    expect(deadline).toMatchObject({ ok: true, periodMs: days * DAY_MS, periodSource: "schedule" });
  });

  it("defaults to oauth_client_secret at standard risk: 180 days", () => {
    expect(computeDeadline(policy({}), ENTRY)).toMatchObject({ periodMs: 180 * DAY_MS });
  });
});

describe("computeDeadline", () => {
  it.each([
    {
      why: "last_rotated wins over the version's creation time",
      metadata: { last_rotated: "2026-02-01T00:00:00Z", rotation_period: "30d" },
      entry: ENTRY,
      deadline: "2026-03-03T00:00:00.000Z",
      basis: "last_rotated",
    },
    {
      why: "without last_rotated the current version's creation time counts",
      metadata: { rotation_period: "30d" },
      entry: ENTRY,
      deadline: "2026-01-31T00:00:00.000Z",
      basis: "version_created",
    },
    {
      why: "without a version time the key's creation time counts",
      metadata: { rotation_period: "30d" },
      entry: { createdTime: "2025-06-01T00:00:00Z", currentVersionCreatedTime: undefined },
      deadline: "2025-07-01T00:00:00.000Z",
      basis: "key_created",
    },
    {
      why: "an unreadable version time falls back to the key's creation time",
      metadata: { rotation_period: "12h" },
      entry: { createdTime: "2025-06-01T00:00:00Z", currentVersionCreatedTime: "garbage" },
      deadline: "2025-06-01T12:00:00.000Z",
      basis: "key_created",
    },
    {
      why: "Vault's nanosecond timestamps are read",
      metadata: { rotation_period: "1d" },
      entry: {
        createdTime: "2018-03-22T02:24:06.945319214Z",
        currentVersionCreatedTime: "2018-03-22T02:24:06.945319214Z",
      },
      deadline: "2018-03-23T02:24:06.945Z",
      basis: "version_created",
    },
  ])("$why", ({ metadata, entry, deadline, basis }) => {
    const result = computeDeadline(policy(metadata), entry);
    expect(result).toMatchObject({ ok: true, basis, cappedByExpiry: false, periodSource: "rotation_period" });
    if (result.ok) expect(result.deadline.toISOString()).toBe(deadline);
  });

  it.each([
    [
      "an expiry before the scheduled deadline caps it",
      "2026-02-15T00:00:00Z",
      "2026-02-15T00:00:00.000Z",
      true,
    ],
    [
      "an expiry after the scheduled deadline changes nothing",
      "2026-12-01T00:00:00Z",
      "2026-03-03T00:00:00.000Z",
      false,
    ],
    [
      "an expiry exactly at the scheduled deadline is not a cap",
      "2026-03-03T00:00:00Z",
      "2026-03-03T00:00:00.000Z",
      false,
    ],
    ["an expiry already past caps it in the past", "2025-01-01T00:00:00Z", "2025-01-01T00:00:00.000Z", true],
  ])("%s", (_why, expiresAt, deadline, capped) => {
    const p = policy({ last_rotated: "2026-02-01T00:00:00Z", rotation_period: "30d", expires_at: expiresAt });
    const result = computeDeadline(p, ENTRY);
    expect(result).toMatchObject({ ok: true, cappedByExpiry: capped, basis: "last_rotated" });
    if (result.ok) expect(result.deadline.toISOString()).toBe(deadline);
  });

  it("reports the last rotation it counted from", () => {
    const result = computeDeadline(policy({}), ENTRY);
    expect(result).toMatchObject({ ok: true, lastRotation: new Date("2026-01-01T00:00:00Z") });
  });

  it("fails with a reason when no time is readable", () => {
    const result = computeDeadline(policy({}), { createdTime: "", currentVersionCreatedTime: undefined });
    expect(result).toEqual({
      ok: false,
      reason: "no last_rotated and no readable creation time in the KV metadata",
    });
  });
});
