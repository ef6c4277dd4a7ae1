// Should the rotator start a rotation of this credential now, and how? Pure: one classified inventory item
// and the time in, one decision out. The engine (scheduler, `run --once`) acts on it; `scan` could show it.
//
// Order of the rules, and why:
// 1. unmanaged and invalid credentials are never touched (invalid metadata is reported, not guessed at);
// 2. a rotation under way is left to its journal, which resumes it; a flag set meanwhile waits for it (and
//    survives its close), except rotate=emergency, which ends the soak or the retire wait at once; one with no
//    journal here (another deployment's, or a leftover state) is left alone whatever the flags say;
// 3. an operator's flag (rotate=now|emergency) acts at once, whatever the deadline, window or auto_rotate,
//    and is the only way out of `failed` (no automatic retries after the capped attempts: no endless loops);
// 4. scheduled rotation honours auto_rotate=false, starts SCHEDULE_LEAD before the deadline (or when the
//    warning window opens, if that is shorter) so a daily rotate_window always falls before the deadline, and
//    only inside rotate_window. An overdue credential is due at once, still inside its window.
import type { InventoryItem } from "../inventory/inventory-item.ts";
import { isInRotateWindow, type RotateWindow } from "../inventory/policy-fields.ts";
import { DAY_MS, formatDuration } from "../time.ts";
import type { ProviderSet } from "./engine-deps.ts";
import type { RotationMode } from "./rotation-state.ts";

const SCHEDULE_LEAD_MS = DAY_MS;

export type RotationDecision =
  | {
      readonly act: true;
      readonly mode: RotationMode;
      /** "pending": provider=sfmc, a secret pasted into pending_api_key (decided in sfmc-pickup.ts). */
      readonly trigger: "flag" | "schedule" | "pending";
      readonly reason: string;
    }
  | { readonly act: false; readonly reason: string; readonly notBefore?: Date | undefined };

export function decideRotation(item: InventoryItem, now: Date, providers: ProviderSet): RotationDecision {
  if (item.state === "unmanaged") return skip("unmanaged: eca-rotator never writes to it");
  if (item.state === "invalid") return skip(`invalid metadata: ${item.reason ?? "see scan"}`);
  // Another deployment's rotation (or a leftover state): not even an emergency flag starts a second one here.
  if (item.noJournalHere === true) return skip(item.reason ?? "a rotation with no journal here");
  // An emergency flag on a rotation under way must not wait for its waits: the engine ends a soak and promotes at
  // once, and ends a retire_after wait (continueExisting). Set after promotion, the flag also survives the close,
  // so an emergency rotation of the new pair follows.
  if (
    (item.rotationState === "awaiting_promotion" || item.rotationState === "in_progress") &&
    item.trigger?.mode === "emergency"
  ) {
    const why = item.trigger.reason ? `: ${item.trigger.reason}` : "";
    return {
      act: true,
      mode: "emergency",
      trigger: "flag",
      reason:
        item.rotationState === "awaiting_promotion"
          ? `rotate=emergency during the soak${why}: promote now`
          : `rotate=emergency during a rotation${why}: end its waits now`,
    };
  }
  // provider=generated: rotate=now during the dual-accept overlap is the operator's word that the sender uses
  // the new secret; the engine ends the overlap (the provider's onRepeatStart).
  if (
    item.rotationState === "awaiting_promotion" &&
    item.trigger?.mode === "now" &&
    providers.get(item.provider)?.flagEndsOverlap === true
  ) {
    const why = item.trigger.reason ? `: ${item.trigger.reason}` : "";
    return {
      act: true,
      mode: "standard",
      trigger: "flag",
      reason: `rotate=now during the overlap${why}: end it now`,
    };
  }
  // soak_until=readers: rotate=now while the soak waits for readers (or holds at soak_max) is the operator's
  // go-ahead to promote now (the provider's onRepeatStart ends the soak).
  if (
    item.rotationState === "awaiting_promotion" &&
    item.trigger?.mode === "now" &&
    item.soakUntil === "readers" &&
    providers.get(item.provider)?.readersSoak === true
  ) {
    const why = item.trigger.reason ? `: ${item.trigger.reason}` : "";
    return {
      act: true,
      mode: "standard",
      trigger: "flag",
      reason: `rotate=now while the soak waits for readers${why}: promote now`,
    };
  }
  if (item.rotationState === "in_progress" || item.rotationState === "awaiting_promotion") {
    return skip(`a rotation is under way (${item.rotationState}); its journal resumes it`);
  }
  if (item.trigger !== undefined) {
    const mode: RotationMode = item.trigger.mode === "emergency" ? "emergency" : "standard";
    const why = item.trigger.reason ? `: ${item.trigger.reason}` : "";
    return { act: true, mode, trigger: "flag", reason: `rotate=${item.trigger.mode} requested${why}` };
  }
  if (item.rotationState === "failed") return skip("the last rotation failed: set rotate=now to try again");
  if (item.autoRotate === false) return skip("auto_rotate=false: only a flag or the CLI rotates it");
  if (providers.get(item.provider)?.startsOnSchedule === false) {
    return skip(
      "assisted rotation: an operator stages a new secret in Setup and pastes it into pending_api_key (or sets rotate=now); deadlines only remind",
    );
  }
  if (item.deadline === undefined) return skip("no deadline could be computed");

  const lead = Math.min(item.warningWindowMs ?? SCHEDULE_LEAD_MS, SCHEDULE_LEAD_MS);
  const dueAt = new Date(item.deadline.getTime() - lead);
  if (now < dueAt)
    return {
      act: false,
      reason: `not due for ${formatDuration(dueAt.getTime() - now.getTime())}`,
      notBefore: dueAt,
    };
  if (!isInRotateWindow(item.rotateWindow, now)) {
    return {
      act: false,
      reason: `due, waiting for rotate_window ${formatWindow(item.rotateWindow)} UTC`,
      notBefore: nextWindowStart(item.rotateWindow, now),
    };
  }
  const when =
    now >= item.deadline
      ? `overdue by ${formatDuration(now.getTime() - item.deadline.getTime())}`
      : `deadline in ${formatDuration(item.deadline.getTime() - now.getTime())}`;
  return { act: true, mode: "standard", trigger: "schedule", reason: `scheduled: ${when}` };
}

function skip(reason: string): RotationDecision {
  return { act: false, reason };
}

function formatWindow(w: RotateWindow | undefined): string {
  if (w === undefined) return "any time";
  const hhmm = (m: number) =>
    `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
  return `${hhmm(w.startMinute)}-${hhmm(w.endMinute)}`;
}

/** The next instant (UTC, whole minute) at which the window opens, strictly after `now`'s minute. */
function nextWindowStart(w: RotateWindow | undefined, now: Date): Date | undefined {
  if (w === undefined) return undefined;
  const start = new Date(
    Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 0, w.startMinute),
  );
  return start > now ? start : new Date(start.getTime() + DAY_MS);
}

// The per-connection request budget: Salesforce counts API calls per org and day and refuses every
// call over the limit with 403 REQUEST_LIMIT_EXCEEDED, which would also break the
// integrations whose credentials we rotate. So the scheduler slows down well before: each answer carries
// `Sforce-Limit-Info: api-usage=used/max`, and new rotations are paced by how much of the day's limit is gone.
// Resumes are never held back: an unfinished rotation costs a few calls and leaving it half done is worse.
// Emergencies still start above the stop point: a leaked secret outweighs the org's API budget.
export interface ApiBudget {
  /** Fraction of the daily limit above which at most one new rotation per connection starts per cycle. */
  readonly slowAt: number;
  /** Fraction above which no new standard rotation starts. */
  readonly stopAt: number;
}

export type BudgetLevel = "normal" | "slow" | "stop";

export function budgetLevel(
  usage: { used: number; max: number } | undefined,
  budget: ApiBudget,
): BudgetLevel {
  // Before the first answer there is nothing to go by: the first rotation's calls will tell.
  if (usage === undefined || usage.max <= 0) return "normal";
  const ratio = usage.used / usage.max;
  if (ratio >= budget.stopAt) return "stop";
  if (ratio >= budget.slowAt) return "slow";
  return "normal";
}

export interface BudgetCandidate {
  readonly connection: string | undefined;
  readonly emergency: boolean;
}

/**
 * Which candidates may start this cycle, in their given order: all under "normal"; the first per connection
 * under "slow"; only emergencies under "stop". Returns the kept indexes and, per held-back index, why.
 */
export function applyBudget(
  candidates: readonly BudgetCandidate[],
  levelOf: (connection: string | undefined) => BudgetLevel,
): { readonly start: readonly number[]; readonly held: ReadonlyMap<number, string> } {
  const start: number[] = [];
  const held = new Map<number, string>();
  const startedOn = new Set<string | undefined>();
  candidates.forEach((c, i) => {
    const level = levelOf(c.connection);
    if (c.emergency || level === "normal") {
      start.push(i);
    } else if (level === "stop") {
      held.set(
        i,
        "Salesforce API usage is above rotation.api_budget.stop_at: held until the daily count falls",
      );
    } else if (startedOn.has(c.connection)) {
      held.set(i, "Salesforce API usage is above rotation.api_budget.slow_at: one new rotation per cycle");
    } else {
      start.push(i);
    }
    if (level !== "normal" && start.at(-1) === i) startedOn.add(c.connection);
  });
  return { start, held };
}
