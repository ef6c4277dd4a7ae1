// The rotation as an explicit state machine. A state names the last step that is
// durably done (written to the journal in Vault); the engine runs the step that leads out of it. Pure data:
// the step functions that act live beside the engine and consult `nextSteps` before every journal write, so
// a resumed or duplicated run can never jump the order. The audit events name these states, so they live here too.
//
// Standard:  claimed → inspected → staging → staged → verified → published → promoting → promoted
//            → verified_main → retired → closed
//            (published holds promote_after: the soak is a wait between published and promoting, not a state)
//            Within one engine call a few states are not written (the shortcuts below): each is a check a
//            successor repeats, or a KV write it recognises as the rotation's own; never an intent or the new pair.
// Emergency: claimed → inspected → staging → staged → promoting → promoted → published → retired
//            → verified_main → closed   (revoke first; the outage runs from promoted to published, which
//            comes right after promotion so that no later failure can leave KV naming the dead old pair)
// Rollback:  before promotion (staging … published) → rolling_back → rolled_back; and from promoting, but
//            only when the promote step has just read that Salesforce's main pair is still the old one
// Failure:   any non-terminal state → failed (after capped attempts; an operator's flag starts afresh)

export const ROTATION_STATES = [
  "claimed",
  "inspected",
  "staging", // intent journaled before POST staged: an orphaned staged set can be recognised as ours
  "staged", // the new pair is in the journal (in Vault) from here on
  "verified", // the new pair can log in (propagation waited out)
  "published", // the new pair is the current KV version; the old one is previous_*
  "promoting", // intent journaled before PATCH rotate: on an uncertain answer, re-read the main key
  "promoted", // Salesforce's main pair is the new one
  "verified_main", // the new pair works as the main pair
  "retired", // the old pair is proven dead and previous_* cleared
  "closed", // metadata stamped (rotation_verified_at, last_rotated, …), journal and lease released
  "rolling_back",
  "rolled_back",
  "failed",
] as const;
export type RotationStep = (typeof ROTATION_STATES)[number];
export type RotationMode = "standard" | "emergency";

export const TERMINAL_STATES: ReadonlySet<RotationStep> = new Set(["closed", "rolled_back", "failed"]);

const STANDARD_ORDER: readonly RotationStep[] = [
  "claimed",
  "inspected",
  "staging",
  "staged",
  "verified",
  "published",
  "promoting",
  "promoted",
  "verified_main",
  "retired",
  "closed",
];

// Emergency publishes right after promotion, before it retires and verifies: once the old pair may be dead the
// promoted pair is the only one Salesforce accepts, so KV must hold it before anything else can fail (a retire
// that meets a Salesforce outage, say). Revocation still comes first: PATCH kills the old pair under immediate
// semantics, and under overlap semantics the retire step deletes it one KV write later.
const EMERGENCY_ORDER: readonly RotationStep[] = [
  "claimed",
  "inspected",
  "staging",
  "staged",
  "promoting",
  "promoted",
  "published",
  "retired",
  "verified_main",
  "closed",
];

/**
 * Journal writes one engine call may leave out, standard mode: each left-out state is one whose work a successor
 * repeats safely when the journal still shows the state before it (a check, or a KV write that is recognised
 * as the rotation's own), so a crash costs a re-check and never a second irreversible call.
 *   claimed → staging      inspect's findings are written with the intent to stage (`inspected` left out)
 *   staged → published     the staged pair was verified in this call (`verified` left out: a resume verifies again)
 *   staged → promoting     the same with a soak of 0: the intent to promote is written with the publication
 *   promoted → retired     the promoted pair was verified and the old one retired in this call, with no
 *                          retire_after wait (`verified_main` left out: a resume verifies again)
 */
const STANDARD_SHORTCUTS: Readonly<Partial<Record<RotationStep, readonly RotationStep[]>>> = {
  claimed: ["staging"],
  staged: ["published", "promoting"],
  promoted: ["retired"],
};

/** Emergency mode shares the inspect step, and with it its shortcut; its other steps are written one by one. */
const EMERGENCY_SHORTCUTS: Readonly<Partial<Record<RotationStep, readonly RotationStep[]>>> = {
  claimed: ["staging"],
};

/**
 * States from which a failure rolls back on its own, and from which `rollback PATH` may: Salesforce's main pair is
 * certainly still the old one. (`promoting` may roll back too, see nextSteps, but never on a failure alone.)
 */
const ROLLBACK_FROM: ReadonlySet<RotationStep> = new Set(["staging", "staged", "verified", "published"]);

/**
 * A provider's state machine over the shared states: its order per mode, where a standard rotation may still
 * be rolled back, and its point of no return (the first step after which the old credential may be gone).
 * Emergency mode never rolls back, whatever the provider.
 */
export interface StepMachine {
  readonly standard: readonly RotationStep[];
  readonly emergency: readonly RotationStep[];
  readonly rollbackFrom: ReadonlySet<RotationStep>;
  readonly noReturn: RotationStep;
  /** Forward transitions that leave states out of the journal, per mode (none when absent). */
  readonly shortcuts?: {
    readonly standard: Readonly<Partial<Record<RotationStep, readonly RotationStep[]>>>;
    readonly emergency: Readonly<Partial<Record<RotationStep, readonly RotationStep[]>>>;
  };
}

/** salesforce-eca's machine; the mode-only functions below use it. */
export const ECA_MACHINE: StepMachine = {
  standard: STANDARD_ORDER,
  emergency: EMERGENCY_ORDER,
  rollbackFrom: ROLLBACK_FROM,
  noReturn: "promoting",
  shortcuts: { standard: STANDARD_SHORTCUTS, emergency: EMERGENCY_SHORTCUTS },
};

export function stepOrder(mode: RotationMode, machine: StepMachine = ECA_MACHINE): readonly RotationStep[] {
  return mode === "emergency" ? machine.emergency : machine.standard;
}

/** Every state a journal in `from` may move to next, in this mode. Terminal states lead nowhere. */
export function nextSteps(
  mode: RotationMode,
  from: RotationStep,
  machine: StepMachine = ECA_MACHINE,
): readonly RotationStep[] {
  if (TERMINAL_STATES.has(from)) return [];
  if (from === "rolling_back") return ["rolled_back", "failed"];
  const order = stepOrder(mode, machine);
  const i = order.indexOf(from);
  const out: RotationStep[] = [];
  const forward = i >= 0 ? order[i + 1] : undefined;
  if (forward !== undefined) out.push(forward);
  out.push(...(machine.shortcuts?.[mode][from] ?? []));
  // Emergency mode promotes before publishing, so it has no rollback window after staging: the old pair is
  // meant to die. A failed emergency verification is a loud failure, not a silent restore.
  if (mode === "standard" && machine.rollbackFrom.has(from)) out.push("rolling_back");
  // The promote step may find that the staged set is gone, or that KV was reverted during the soak, while the main
  // pair is still the old one: then the rotation rolls back (both modes). Only that step takes this edge, because
  // only it has just read Salesforce's main key; a failure at `promoting` in general may follow a PATCH that
  // landed, and parks instead.
  if (from === "promoting" && machine.rollbackFrom.size > 0) out.push("rolling_back");
  out.push("failed");
  return out;
}

export function canTransition(
  mode: RotationMode,
  from: RotationStep,
  to: RotationStep,
  machine: StepMachine = ECA_MACHINE,
): boolean {
  return nextSteps(mode, from, machine).includes(to);
}

/** Has Salesforce's main pair possibly changed? From here on there is no way back to the old pair. */
export function isPastPromotion(
  mode: RotationMode,
  step: RotationStep,
  machine: StepMachine = ECA_MACHINE,
): boolean {
  const order = stepOrder(mode, machine);
  const i = order.indexOf(step);
  return i >= order.indexOf(machine.noReturn);
}

/** The metadata rotation_state an operator sees while a journal is in `step`. */
export function visibleState(
  step: RotationStep,
  promoteAfter?: Date,
  now?: Date,
): "in_progress" | "awaiting_promotion" | "idle" | "failed" {
  if (step === "failed") return "failed";
  if (step === "closed" || step === "rolled_back") return "idle";
  if (step === "published" && promoteAfter !== undefined && now !== undefined && now < promoteAfter)
    return "awaiting_promotion";
  return "in_progress";
}

// The closed list of audit events. One event per step; never a secret: consumer keys appear
// only as a keyed fingerprint, secrets never.
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
  // A path proved possession of an external consumer and was recorded as its only owner (rotation-run.ts).
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
