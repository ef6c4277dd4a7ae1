// What every engine call ends in: an explicit value, never a thrown error (house-style 4.1, principle 4).
// Outcomes carry ids, codes and public messages only: never a secret, never a consumer key (fingerprints).
import type { ErrorCode } from "../errors.ts";
import type { RotationMode, RotationStep } from "./rotation-state.ts";

/**
 * retry: a failed attempt backs off until the next one may run (journal retry_after). readers: a soak_until=readers
 * soak past its minimum waits for readers still on the old pair; `until` is the next look, never past soak_max.
 */
export type WaitKind = "soak" | "retire" | "confirm" | "retry" | "readers";

interface OutcomeBase {
  readonly path: string;
  /** Undefined when no rotation was started (skipped before a journal existed). */
  readonly rotationId: string | undefined;
  readonly mode: RotationMode | undefined;
  /** Audit events and notifications that could not be delivered during this call (they never change the outcome). */
  readonly sinkFailures: number;
  /** Set for every provider but rotation-run.ts's UNTAGGED_PROVIDER (absent means it), so words can fit the credential. */
  readonly provider?: string | undefined;
}

/** The rotation finished: Salesforce's main pair is the new one, KV holds it, the old pair is proven dead. */
interface CompletedOutcome extends OutcomeBase {
  readonly kind: "completed";
  readonly kvVersion: number | undefined;
  readonly keyFingerprint: string | undefined;
  readonly durationMs: number;
  /** Emergency mode: from promotion (old pair dead) to publication (new pair in KV). */
  readonly outageMs: number | undefined;
}

/**
 * Nothing to do until `until` (the soak, or retire_after); call resume then. The lease is released meanwhile.
 * `confirm`: a generated secret's overlap waits for an operator's rotate=now; `until` is only when to look again.
 */
interface WaitingOutcome extends OutcomeBase {
  readonly kind: "waiting";
  readonly step: RotationStep;
  readonly waiting: WaitKind;
  readonly until: Date;
  /** waiting readers: who has moved and who not, e.g. "3 of 4 readers moved; waiting for billing-sync". */
  readonly detail?: string | undefined;
}

/** The staged set is gone and KV holds the old pair again (automatic after a failure before promotion, or asked). */
interface RolledBackOutcome extends OutcomeBase {
  readonly kind: "rolled_back";
  /** The failure that caused an automatic rollback; undefined when an operator asked for it. */
  readonly code: ErrorCode | "UNCLASSIFIED" | undefined;
  readonly message: string;
  /** The KV version that restored the old pair, when the new one had been published. */
  readonly kvVersion: number | undefined;
}

export interface FailedOutcome extends OutcomeBase {
  readonly kind: "failed";
  readonly step: RotationStep | undefined;
  readonly code: ErrorCode | "UNCLASSIFIED";
  readonly message: string;
  /** True: the attempt was counted in the journal and a later resume tries again. False: an operator must act. */
  readonly willRetry: boolean;
  readonly attempts: number;
  /** willRetry: the earliest time the next attempt runs (a resume before it reports waiting "retry"). */
  readonly retryAt?: Date | undefined;
}

/** Nothing was done: not applicable, already handled, or another owner holds the credential. */
export interface SkippedOutcome extends OutcomeBase {
  readonly kind: "skipped";
  readonly reason: string;
  readonly code: ErrorCode | "UNCLASSIFIED" | undefined;
}

export type RotationOutcome =
  | CompletedOutcome
  | WaitingOutcome
  | RolledBackOutcome
  | FailedOutcome
  | SkippedOutcome;
