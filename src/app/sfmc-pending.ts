// After each scan (run --once and the daemon): provider=sfmc entries that may hold a freshly pasted
// `pending_api_key` (sfmc-pickup.ts decides from metadata) are read, and those holding one are started with
// trigger "pending", like a flag. One data read per such entry, only when its KV version is new to the rotator;
// the secret read here is dropped at once (the engine reads it again under its lease).
import { classifyError } from "../core/errors.ts";
import type { InventoryItem } from "../core/inventory/inventory-item.ts";
import { mayHoldNewPending, pendingDecision } from "../core/providers/sfmc/sfmc-pickup.ts";
import type { CredentialStore } from "../core/rotation/rotation-ports.ts";
import { forEachBounded } from "./bounded-parallel.ts";
import type { CycleRow, Start } from "./rotation-cycle.ts";

export interface PendingScanDeps {
  readonly store: Pick<CredentialStore, "read">;
  /** An unfinished or parked journal exists for the path (it is resumed, never restarted). */
  readonly hasJournal: (path: string) => boolean;
  /** Already started, queued or settled this cycle. */
  readonly busy: (path: string) => boolean;
  readonly concurrency: number;
}

export interface PendingScanResult {
  readonly starts: readonly Start[];
  /** Entries that could not be read, with the error code (the next scan tries again). */
  readonly unread: readonly CycleRow[];
}

export async function findPastedSecrets(
  items: readonly InventoryItem[],
  deps: PendingScanDeps,
): Promise<PendingScanResult> {
  const candidates = items.filter(
    (item) => !deps.busy(item.path) && mayHoldNewPending(item, deps.hasJournal(item.path)),
  );
  const starts: Start[] = [];
  const unread: CycleRow[] = [];
  await forEachBounded(candidates, deps.concurrency, async (item) => {
    try {
      const cred = await deps.store.read(item.path);
      const decision = cred === undefined ? undefined : pendingDecision(cred);
      if (decision !== undefined) starts.push({ item, decision });
    } catch (err) {
      const reason = `could not read pending_api_key (${classifyError(err)}); the next scan tries again`;
      unread.push({ path: item.path, action: "none", reason, outcome: undefined });
    }
  });
  starts.sort((a, b) => (a.item.path < b.item.path ? -1 : a.item.path > b.item.path ? 1 : 0));
  return { starts, unread };
}
