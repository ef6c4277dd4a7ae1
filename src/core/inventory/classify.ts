// KV metadata + now → one InventoryItem with a state from the closed set (precedence in inventory-item.ts).
// Pure and total: never throws, whatever the entry holds.

import { toDisplayText } from "../display-text.ts";
import { PROVIDERS } from "../providers/provider-registry.ts";
import { DAY_MS, formatDuration, HOUR_MS, MINUTE_MS, parseRfc3339, SECOND_MS } from "../time.ts";
import type { CredentialPolicy, Destinations, PolicyReader, ProviderMetadata } from "./credential-policy.ts";
import { computeDeadline, type Deadline } from "./deadline.ts";
import type { CredentialState, InventoryItem } from "./inventory-item.ts";
import type { KvEntryMetadata, ScanItem } from "./kv-entry.ts";
import type { SoakUntil } from "./policy-fields.ts";

export interface ClassifyDefaults {
  /** For credentials without their own `warning_window` (product default 14d). */
  readonly warningWindowMs: number;
  /**
   * A rotation counts as stuck when the entry has not changed for this long while in_progress, or for the
   * credential's soak plus this long while awaiting_promotion (waiting out the soak is expected).
   */
  readonly stuckAfterMs: number;
  /** Soak for credentials without their own `soak` (config rotation.soak); default 15m. */
  readonly soakMs?: number | undefined;
  /** For credentials without their own `soak_until` (config rotation.soak_until); default time. */
  readonly soakUntil?: SoakUntil | undefined;
  /** For credentials without their own `soak_max` (config rotation.soak_max); default 24h. */
  readonly soakMaxMs?: number | undefined;
  /**
   * The configured connections and tenants: a credential whose metadata names one that is not configured, none
   * when it must, or one limited to other prefixes is invalid. A kind with nothing configured is not judged (a
   * `scan` without a config file knows no connections).
   */
  readonly destinations?: Destinations | undefined;
  /** The providers whose metadata and words apply; the registered ones (PROVIDERS) when absent. */
  readonly providers?: PolicyReader | undefined;
}

export const DEFAULT_CLASSIFY_DEFAULTS: ClassifyDefaults = {
  warningWindowMs: 14 * DAY_MS,
  stuckAfterMs: HOUR_MS,
  soakMs: 15 * MINUTE_MS,
};

export function classifyEntry(entry: KvEntryMetadata, now: Date, defaults: ClassifyDefaults): InventoryItem {
  const providers = defaults.providers ?? PROVIDERS;
  const parsed = providers.parsePolicy(entry.customMetadata);
  const base = {
    path: entry.path,
    currentVersion: entry.currentVersion,
    updatedTime: parseRfc3339(entry.updatedTime),
    versionCreated: parseRfc3339(entry.currentVersionCreatedTime),
  };
  if (parsed.kind === "unmanaged") {
    return record(base, undefined, "unmanaged", "no provider key in custom_metadata", NO_CONSUMERS);
  }
  if (parsed.kind === "invalid") {
    const { provider, consumers, rotationContact } = parsed.hints;
    return record(base, undefined, "invalid", parsed.reason, consumers, provider, rotationContact);
  }
  const policy = parsed.policy;
  if (entry.currentVersionDeleted) {
    const reason = `current version ${entry.currentVersion} is deleted or destroyed`;
    return record(base, policy, "invalid", reason);
  }
  const meta = providers.metadataOf(policy.provider);
  const unusable =
    defaults.destinations === undefined
      ? undefined
      : meta?.destinationProblem?.(policy, entry.path, defaults.destinations);
  if (unusable !== undefined) return record(base, policy, "invalid", unusable);
  const deadline = computeDeadline(policy, entry);
  if (!deadline.ok) return record(base, policy, "invalid", deadline.reason);

  const warningWindowMs = policy.warningWindowMs ?? defaults.warningWindowMs;
  const msToDeadline = deadline.deadline.getTime() - now.getTime();
  const stuckFor = stuckDuration(policy, meta, base.updatedTime, now, defaults);
  const { state, reason } = pickState(policy, meta, deadline, msToDeadline, warningWindowMs, stuckFor);
  return record(base, policy, state, reason, undefined, undefined, undefined, {
    deadline: deadline.deadline,
    deadlineBasis: deadline.basis,
    periodMs: deadline.periodMs,
    periodSource: deadline.periodSource,
    cappedByExpiry: deadline.cappedByExpiry,
    secondsToDeadline: Math.floor(msToDeadline / SECOND_MS),
    warningWindowMs,
    stuck: stuckFor !== undefined,
    soakUntil: policy.soakUntil ?? defaults.soakUntil ?? "time",
  });
}

const NO_CONSUMERS: readonly string[] = Object.freeze([]);

/**
 * One inventory row, every field in one object literal in a fixed order: every row then shares one hidden
 * class with its fields stored inline, and no intermediate objects are made for it. A scan keeps thousands of
 * these for the status page and the API until the next one.
 */
function record(
  base: {
    readonly path: string;
    readonly currentVersion: number;
    readonly updatedTime: Date | undefined;
    readonly versionCreated: Date | undefined;
  },
  policy: CredentialPolicy | undefined,
  state: CredentialState,
  reason: string | undefined,
  consumers?: readonly string[],
  provider?: CredentialPolicy["provider"],
  contact?: string,
  timing?: {
    readonly deadline: Date;
    readonly deadlineBasis: InventoryItem["deadlineBasis"];
    readonly periodMs: number;
    readonly periodSource: InventoryItem["periodSource"];
    readonly cappedByExpiry: boolean;
    readonly secondsToDeadline: number;
    readonly warningWindowMs: number;
    readonly stuck: boolean;
    readonly soakUntil: SoakUntil;
  },
): InventoryItem {
  return {
    path: base.path,
    currentVersion: base.currentVersion,
    updatedTime: base.updatedTime,
    versionCreated: base.versionCreated,
    stuck: timing?.stuck ?? false,
    provider: policy?.provider ?? provider,
    credentialType: policy?.credentialType,
    risk: policy?.risk,
    lastRotated: policy?.lastRotated,
    verifiedAt: policy?.rotationVerifiedAt,
    rotationState: policy?.rotationState,
    lastError: policy?.lastRotationError,
    autoRotate: policy?.autoRotate,
    rotateWindow: policy?.rotateWindow,
    consumers: policy?.consumers ?? consumers ?? NO_CONSUMERS,
    contact: policy?.rotationContact ?? contact,
    trigger: policy?.trigger,
    sfConnection: textProperty(policy, "sfConnection"),
    sfmcTenant: textProperty(policy, "sfmcTenant"),
    expiresAt: policy?.expiresAt,
    state,
    reason,
    deadline: timing?.deadline,
    deadlineBasis: timing?.deadlineBasis,
    periodMs: timing?.periodMs,
    periodSource: timing?.periodSource,
    cappedByExpiry: timing?.cappedByExpiry,
    secondsToDeadline: timing?.secondsToDeadline,
    warningWindowMs: timing?.warningWindowMs,
    soakUntil: timing?.soakUntil,
  };
}

/** A scan item: entries are classified; an entry that could not be read is `invalid` with the reason. */
export function classifyScanItem(item: ScanItem, now: Date, defaults: ClassifyDefaults): InventoryItem {
  if (item.kind === "entry") return classifyEntry(item.entry, now, defaults);
  const reason = `unreadable (${toDisplayText(item.code, 40)}): ${toDisplayText(item.message, 160)}`;
  return { path: item.path, state: "invalid", reason, consumers: [], stuck: false };
}

/** A provider's policy property the inventory row shows (the destination its metadata names). */
function textProperty(policy: CredentialPolicy | undefined, property: string): string | undefined {
  const value = policy?.[property];
  return typeof value === "string" ? value : undefined;
}

function pickState(
  policy: CredentialPolicy,
  meta: ProviderMetadata | undefined,
  deadline: Deadline,
  msToDeadline: number,
  warningWindowMs: number,
  stuckFor: number | undefined,
): { state: CredentialState; reason: string | undefined } {
  const stuckNote = stuckFor === undefined ? "" : `; no change for ${formatDuration(stuckFor)} (stuck)`;
  switch (policy.rotationState) {
    case "failed":
      return { state: "failed", reason: "the last rotation failed" };
    case "in_progress": {
      // A failed attempt backing off writes "retrying (attempt N, next after …): CODE: message" there.
      const retrying = policy.lastRotationError?.startsWith("retrying (") === true;
      const note = retrying ? `; ${policy.lastRotationError?.slice(0, 200)}` : "";
      return { state: "in_progress", reason: `rotation in progress${note}${stuckNote}` };
    }
    case "awaiting_promotion":
      return { state: "awaiting_promotion", reason: `${awaitingWhat(policy, meta)}${stuckNote}` };
    case "idle":
      break;
  }
  if (policy.trigger !== undefined) {
    return { state: "flagged", reason: `rotate=${policy.trigger.mode} requested` };
  }
  const expiryNote = deadline.cappedByExpiry ? " (expires_at)" : "";
  if (msToDeadline <= 0) {
    return { state: "overdue", reason: `deadline${expiryNote} passed ${formatDuration(-msToDeadline)} ago` };
  }
  if (isUnverified(policy)) {
    return { state: "unverified", reason: "no rotation_verified_at at or after last_rotated" };
  }
  if (msToDeadline <= warningWindowMs) {
    return { state: "due_soon", reason: `due in ${formatDuration(msToDeadline)}${expiryNote}` };
  }
  return { state: "ok", reason: undefined };
}

/** What a published rotation waits for, in the provider's words. */
function awaitingWhat(policy: CredentialPolicy, meta: ProviderMetadata | undefined): string {
  return meta?.awaitingText?.(policy) ?? "new pair published, awaiting promotion";
}

function isUnverified(policy: CredentialPolicy): boolean {
  const { lastRotated, rotationVerifiedAt } = policy;
  if (lastRotated === undefined) return false;
  return rotationVerifiedAt === undefined || rotationVerifiedAt.getTime() < lastRotated.getTime();
}

/** How long a rotation has sat unchanged past its allowance, or undefined when it is not stuck. */
function stuckDuration(
  policy: CredentialPolicy,
  meta: ProviderMetadata | undefined,
  updated: Date | undefined,
  now: Date,
  defaults: ClassifyDefaults,
): number | undefined {
  if (updated === undefined) return undefined;
  let allowance: number;
  if (policy.rotationState === "in_progress") allowance = defaults.stuckAfterMs;
  else if (policy.rotationState === "awaiting_promotion") {
    // A wait that only a person ends (the provider says which) is expected to take long: never called stuck.
    if (meta?.waitsForPerson?.(policy) === true) return undefined;
    const soakMs = policy.soakMs ?? defaults.soakMs ?? 15 * MINUTE_MS;
    // soak_until=readers may wait up to soak_max for its readers (and an on_soak_max=hold longer, for a person).
    const readers = (policy.soakUntil ?? defaults.soakUntil) === "readers";
    allowance =
      (readers ? Math.max(soakMs, policy.soakMaxMs ?? defaults.soakMaxMs ?? DAY_MS) : soakMs) +
      defaults.stuckAfterMs;
  } else return undefined;
  const unchangedFor = now.getTime() - updated.getTime();
  return unchangedFor > allowance ? unchangedFor : undefined;
}
