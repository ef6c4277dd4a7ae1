// The rotation deadline of one credential:
//   deadline = last rotation + period, capped by expires_at
// where the last rotation is `last_rotated`, else the creation time of the current KV version (read from
// metadata, so a scan never reads secret data), else the key's creation time when the server did not
// report the version's. The period is `rotation_period`, else the schedule table.

import { DAY_MS, parseRfc3339 } from "../time.ts";
import type { CredentialPolicy } from "./credential-policy.ts";
import type { KvEntryMetadata } from "./kv-entry.ts";
import type { CredentialType, Risk } from "./policy-fields.ts";

/** Rotation period in days when `rotation_period` is absent. */
export const SCHEDULE_TABLE_DAYS: Readonly<Record<CredentialType, Readonly<Record<Risk, number>>>> = {
  api_key: { standard: 90, high: 30 },
  oauth_client_secret: { standard: 180, high: 90 },
  service_account_token: { standard: 90, high: 30 },
  database: { standard: 90, high: 30 },
  webhook_secret: { standard: 180, high: 90 },
};

export function schedulePeriodMs(credentialType: CredentialType, risk: Risk): number {
  return SCHEDULE_TABLE_DAYS[credentialType][risk] * DAY_MS;
}

/** Which time the period was counted from. */
export type DeadlineBasis = "last_rotated" | "version_created" | "key_created";
export type PeriodSource = "rotation_period" | "schedule";

export interface Deadline {
  readonly deadline: Date;
  readonly lastRotation: Date;
  readonly basis: DeadlineBasis;
  readonly periodMs: number;
  readonly periodSource: PeriodSource;
  /** True when expires_at comes before last rotation + period, so expires_at is the deadline. */
  readonly cappedByExpiry: boolean;
}

export type DeadlineResult =
  | ({ readonly ok: true } & Deadline)
  | { readonly ok: false; readonly reason: string };

type DeadlineEntry = Pick<KvEntryMetadata, "createdTime" | "currentVersionCreatedTime">;

export function computeDeadline(policy: CredentialPolicy, entry: DeadlineEntry): DeadlineResult {
  const base = lastRotationOf(policy, entry);
  if (base === undefined) {
    return { ok: false, reason: "no last_rotated and no readable creation time in the KV metadata" };
  }
  const periodSource: PeriodSource = policy.rotationPeriodMs === undefined ? "schedule" : "rotation_period";
  const periodMs = policy.rotationPeriodMs ?? schedulePeriodMs(policy.credentialType, policy.risk);
  const scheduled = base.at.getTime() + periodMs;
  const expiry = policy.expiresAt?.getTime();
  const cappedByExpiry = expiry !== undefined && expiry < scheduled;
  return {
    ok: true,
    deadline: new Date(cappedByExpiry ? expiry : scheduled),
    lastRotation: base.at,
    basis: base.basis,
    periodMs,
    periodSource,
    cappedByExpiry,
  };
}

function lastRotationOf(
  policy: CredentialPolicy,
  entry: DeadlineEntry,
): { at: Date; basis: DeadlineBasis } | undefined {
  if (policy.lastRotated !== undefined) return { at: policy.lastRotated, basis: "last_rotated" };
  const versionCreated = parseRfc3339(entry.currentVersionCreatedTime);
  if (versionCreated !== undefined) return { at: versionCreated, basis: "version_created" };
  const keyCreated = parseRfc3339(entry.createdTime);
  if (keyCreated !== undefined) return { at: keyCreated, basis: "key_created" };
  return undefined;
}
