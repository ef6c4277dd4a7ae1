// The deadline messages one scan calls for: credential.due_soon once the warning window opens, credential.overdue
// at the deadline, and again every notifications.overdue_repeat while the credential stays overdue. Pure: the
// chat notifier's dedup keys (deadline and reminder number) keep each to one message across scans and replicas.
import type { InventoryItem } from "../inventory/inventory-item.ts";
import { PROVIDERS } from "../providers/provider-registry.ts";
import type { ProviderSet } from "../rotation/engine-deps.ts";
import type { ChatCredential, DeadlineChatEvent } from "./chat-event.ts";

export interface DeadlineReminderOptions {
  /** notifications.overdue_repeat; undefined: one overdue message per deadline, no repeats. */
  readonly overdueRepeatMs: number | undefined;
  /** Paths to leave out this time (e.g. a manual rotation just recorded: the scanned deadline is stale). */
  readonly skip?: ReadonlySet<string> | undefined;
  /** The registered providers (PROVIDERS when absent): which of them the rotator rotates itself. */
  readonly providers?: ProviderSet | undefined;
}

export function deadlineReminders(
  items: readonly InventoryItem[],
  at: Date,
  opts: DeadlineReminderOptions,
): DeadlineChatEvent[] {
  const events: DeadlineChatEvent[] = [];
  for (const item of items) {
    if (item.deadline === undefined || opts.skip?.has(item.path) === true) continue;
    const kind = reminderKind(item, at, opts.providers ?? PROVIDERS);
    if (kind === undefined) continue;
    const reminder =
      kind === "credential.overdue" ? reminderNumber(item.deadline, at, opts.overdueRepeatMs) : 0;
    events.push({
      kind,
      credential: chatCredentialOf(item),
      deadline: item.deadline,
      at,
      ...(reminder > 0 ? { reminder } : {}),
    });
  }
  return events;
}

/** 0 at the deadline, 1 one repeat period later, and so on; always 0 without repeats. */
export function reminderNumber(deadline: Date, at: Date, repeatMs: number | undefined): number {
  if (repeatMs === undefined || repeatMs <= 0) return 0;
  const late = at.getTime() - deadline.getTime();
  return late < 0 ? 0 : Math.floor(late / repeatMs);
}

function reminderKind(
  item: InventoryItem,
  at: Date,
  providers: ProviderSet,
): DeadlineChatEvent["kind"] | undefined {
  if (item.state === "overdue") return "credential.overdue";
  if (item.state === "due_soon") return "credential.due_soon";
  // rotate=now on a credential only a person can rotate (a provider the engine does not rotate, such as
  // manual) asks that person to act; keep reminding them.
  const byHand = item.provider !== undefined && !providers.rotates(item.provider);
  if (item.state === "flagged" && byHand && item.deadline !== undefined) {
    const ms = item.deadline.getTime() - at.getTime();
    if (ms <= 0) return "credential.overdue";
    if (item.warningWindowMs !== undefined && ms <= item.warningWindowMs) return "credential.due_soon";
  }
  return undefined;
}

export function chatCredentialOf(item: InventoryItem): ChatCredential {
  return {
    path: item.path,
    provider: item.provider,
    consumers: item.consumers,
    contact: item.contact,
    deadline: item.deadline,
    state: item.state,
  };
}
