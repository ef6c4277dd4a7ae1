// The rotation as an explicit state machine. A state names the last step that is
// durably done (written to the journal in Vault); the engine runs the step that leads out of it. Pure data:
// the step functions that act live beside the engine and consult `nextSteps` before every journal write, so
// a resumed or duplicated run can never jump the order.
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
