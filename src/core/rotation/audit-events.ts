// The closed list of audit events. One event per step; never a secret: consumer keys appear
// only as a keyed fingerprint, secrets never.
import type { RotationMode, RotationStep } from "./rotation-state.ts";

export const AUDIT_EVENT_TYPES = [
  "rotation.started",
  "rotation.resumed",
  "rotation.staged",
  "rotation.verified",
  "rotation.published",
  "rotation.promoted",
  // soak_until=readers with on_soak_max=hold: soak_max ran out with readers on the old pair; not promoted (once).
  "rotation.held",
  "rotation.retired",
  "rotation.completed",
  "rotation.failed",
  // A failed attempt that will be tried again after a backoff (errorCode says why); one per attempt.
  "rotation.retrying",
  "rotation.rolled_back",
  // `eca-rotator resolve PATH`: a parked rotation ended by hand, KV made to name Salesforce's main pair.
  "rotation.resolved",
  // provider=manual: an operator wrote a new value and the rotator recorded it (no engine run, no journal).
  "rotation.recorded",
  // A path proved possession of an external consumer and was recorded as its only owner (consumer-owner.ts).
  "consumer.owned",
  // `eca-rotator adopt PATH`: the consumer moved to PATH, after PATH proved possession again.
  "consumer.adopted",
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/**
 * What started a rotation. "pending": provider=sfmc, the scan found a secret an operator pasted into
 * pending_api_key (no flag needed). Only an operator's request (flag, cli, http) may also end a wait.
 */
export const ROTATION_TRIGGERS = ["schedule", "flag", "cli", "http", "pending"] as const;
export type RotationTrigger = (typeof ROTATION_TRIGGERS)[number];

/** True for the triggers that are a person's explicit request: they end a soak or an overlap early. */
export function isOperatorRequest(trigger: RotationTrigger): boolean {
  return trigger === "flag" || trigger === "cli" || trigger === "http";
}

/** Who started a rotation, for people: "flag by operator-flag", "a secret pasted into pending_api_key". */
export function startedByText(trigger: RotationTrigger, actor: string): string {
  return trigger === "pending" ? "a secret pasted into pending_api_key" : `${trigger} by ${actor}`;
}

/** The actor of a rotation the rotator itself starts (the CLI and the API name their own). */
export function actorOf(trigger: "schedule" | "flag" | "pending"): string {
  return trigger === "flag" ? "operator-flag" : trigger === "pending" ? "operator-paste" : "scheduler";
}

export interface AuditEvent {
  readonly type: AuditEventType;
  readonly time: string; // RFC 3339
  readonly rotationId: string;
  readonly path: string;
  readonly provider: string;
  readonly mode: RotationMode;
  /** "manual": a rotation an operator made by hand and the rotator recorded (rotation.recorded). */
  readonly trigger: RotationTrigger | "manual";
  /** Who asked: "scheduler", "operator-flag", "cli", "http:<token name>"; never a token. */
  readonly actor: string;
  readonly step: RotationStep;
  readonly reason?: string | undefined;
  readonly kvVersion?: number | undefined;
  readonly stagedId?: string | undefined;
  /** Keyed fingerprint (HMAC) of the new consumer key: lets two events be matched without showing the key. */
  readonly keyFingerprint?: string | undefined;
  readonly errorCode?: string | undefined;
  /** Emergency mode: milliseconds between promotion (old pair dead) and publication (new pair in KV). */
  readonly outageMs?: number | undefined;
  readonly durationMs?: number | undefined;
  /** consumer.owned / consumer.adopted: which consumer ("Salesforce org …, app …, consumer …"); never a secret. */
  readonly subject?: string | undefined;
  /** consumer.adopted: the path that owned the consumer before (undefined: nobody had yet). */
  readonly previousOwner?: string | undefined;
  /** rotation.retired: Salesforce's answer to a login with the old key that proves it dead (invalid_client_id). */
  readonly deathProof?: string | undefined;
  /**
   * soak_until=readers: what the promotion went by (rotation.promoted; generated: rotation.retired), or why it
   * was held (rotation.held). Reader labels and versions only, the lists capped.
   */
  readonly evidence?: AuditEvidence | undefined;
}

/** A promotion's evidence in an audit event; see PromotionEvidence in journal-record.ts. */
export interface AuditEvidence {
  readonly decision: "all-moved" | "soak-max" | "operator";
  readonly publishedVersion: number;
  readonly movedCount: number;
  readonly laggingCount: number;
  readonly moved: readonly { readonly label: string; readonly version: number; readonly at: string }[];
  readonly lagging: readonly { readonly label: string; readonly version: number; readonly at: string }[];
  /** Why there was no reader evidence ("no reader feed"). */
  readonly missing?: string | undefined;
}
