// After each scan (serve and run --once): record the manual rotations the scan shows (provider=manual: an operator
// wrote a new value to KV; see src/core/manual/manual-actions.ts for the rule), then send the deadline messages:
// due_soon, overdue, and an overdue reminder every notifications.overdue_repeat. Reads scan metadata only, never
// a secret. Safe with several replicas: the stamps are idempotent merge patches of the same values, and chat goes
// through the notifier's shared dedup store (one message per credential and KV version, or per reminder period).

import { classifyError, type ErrorCode } from "../core/errors.ts";
import type { InventoryItem } from "../core/inventory/inventory-item.ts";
import { MANUAL_PROVIDER, type ManualAction, manualActions } from "../core/manual/manual-actions.ts";
import type { ChatEvent, RotationChatEvent } from "../core/notify/chat-event.ts";
import { formatUtc, listText } from "../core/notify/chat-text.ts";
import { chatCredentialOf, deadlineReminders } from "../core/notify/deadline-reminders.ts";
import type { AuditSink, CredentialStore } from "../core/rotation/rotation-ports.ts";

type FailureCode = ErrorCode | "UNCLASSIFIED";

export interface ScanFollowUpDeps {
  /** Only patchMetadata is used (the rotation stack's store: managed credentials under the prefixes only). */
  readonly store: Pick<CredentialStore, "patchMetadata">;
  /** The chat notifier (its send never throws for a target); undefined: stamps only, no messages. */
  readonly chat: { send(event: ChatEvent): Promise<unknown> } | undefined;
  /** notifications.overdue_repeat. */
  readonly overdueRepeatMs: number | undefined;
  /** A manual rotation was recorded, or a manual credential adopted (for the log). */
  readonly onStamped?: ((action: ManualAction) => void) | undefined;
  /** Where rotation.recorded goes (the same audit sinks as engine rotations); undefined: none. */
  readonly audit?: AuditSink | undefined;
  /** A stamp could not be written; the next scan tries again. */
  readonly onFailure?: ((path: string, code: FailureCode) => void) | undefined;
}

interface ManualActionsResult {
  readonly recorded: readonly ManualAction[];
  readonly adopted: readonly ManualAction[];
  readonly failed: readonly { readonly path: string; readonly code: FailureCode }[];
}

export interface ScanFollowUpResult {
  readonly manual: ManualActionsResult;
  /** Deadline messages handed to the notifier (its dedup store decides which go out). */
  readonly deadlineEvents: number;
}

/** The one call after a scan: manual stamps first, then the deadline messages. Never throws for a credential. */
export async function followUpScan(
  items: readonly InventoryItem[],
  at: Date,
  deps: ScanFollowUpDeps,
): Promise<ScanFollowUpResult> {
  const manual = await applyManualActions(items, at, deps);
  // A credential whose new value was just seen has a stale deadline in this scan: no warning for it now.
  const skip = new Set(manualActions(items).flatMap((a) => (a.kind === "record" ? [a.path] : [])));
  const events = deadlineReminders(items, at, { overdueRepeatMs: deps.overdueRepeatMs, skip });
  for (const event of events) await sendQuietly(deps, event);
  return { manual, deadlineEvents: events.length };
}

/** Stamps every manual credential the scan calls for; announces recorded rotations in chat (not adoptions). */
async function applyManualActions(
  items: readonly InventoryItem[],
  at: Date,
  deps: ScanFollowUpDeps,
): Promise<ManualActionsResult> {
  const recorded: ManualAction[] = [];
  const adopted: ManualAction[] = [];
  const failed: { path: string; code: FailureCode }[] = [];
  for (const action of manualActions(items)) {
    try {
      await deps.store.patchMetadata(action.path, action.patch);
    } catch (err) {
      const code = classifyError(err);
      failed.push({ path: action.path, code });
      deps.onFailure?.(action.path, code);
      continue;
    }
    deps.onStamped?.(action);
    if (action.kind === "adopt") {
      adopted.push(action);
      continue;
    }
    recorded.push(action);
    await auditQuietly(deps, action, at);
    await sendQuietly(deps, recordedEvent(action, at));
  }
  return { recorded, adopted, failed };
}

/** "manual-v7-20260501T123000.123Z": unique per KV version, so the dedup key is one per path and version. */
function manualRotationId(action: Pick<ManualAction, "version" | "versionCreated">): string {
  const compact = action.versionCreated.toISOString().replace(/[-:]/g, "");
  return `manual-v${action.version}-${compact}`;
}

function recordedEvent(action: ManualAction, at: Date): RotationChatEvent {
  const due = action.patch["next_rotation_due"];
  const next = typeof due === "string" ? new Date(due) : undefined;
  const { path, version, versionCreated, item } = action;
  const consumers = listText(item.consumers);
  return {
    kind: "rotation.completed",
    credential: { ...chatCredentialOf(item), deadline: next, state: undefined },
    rotationId: manualRotationId(action),
    text:
      `Recorded a manual rotation of ${path}: KV version ${version} was written ${formatUtc(versionCreated)}; ` +
      `last_rotated and rotation_verified_at now say so` +
      (next === undefined ? "." : `, and the next deadline is ${formatUtc(next)}.`),
    nextStep:
      `Nothing to do in Vault. Once ${consumers ?? "every consumer"} uses the new value, revoke the old one at ` +
      "the provider if it is still valid.",
    at,
  };
}

async function auditQuietly(deps: ScanFollowUpDeps, action: ManualAction, at: Date): Promise<void> {
  if (deps.audit === undefined) return;
  try {
    await deps.audit.emit({
      type: "rotation.recorded",
      time: at.toISOString(),
      rotationId: manualRotationId(action),
      path: action.path,
      provider: MANUAL_PROVIDER,
      mode: "standard",
      trigger: "manual",
      actor: "kv-write",
      step: "closed",
      kvVersion: action.version,
    });
  } catch (err) {
    deps.onFailure?.(action.path, classifyError(err));
  }
}

async function sendQuietly(deps: ScanFollowUpDeps, event: ChatEvent): Promise<void> {
  if (deps.chat === undefined) return;
  try {
    await deps.chat.send(event);
  } catch (err) {
    deps.onFailure?.("(chat)", classifyError(err));
  }
}
