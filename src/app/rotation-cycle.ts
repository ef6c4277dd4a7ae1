// One cycle of the rotator (`run --once` now, every scan_interval in the daemon later):
// 1. resume every unfinished journal (a crash, a soak that has run out, a takeover from a dead replica);
// 2. scan the inventory (metadata only), after the resumes so the decisions see the state they left;
// 3. decide per credential (decideRotation: flags, schedule, windows) and start what is due, plus every sfmc
//    credential with a freshly pasted pending_api_key (a provider's pickup: one data read each).
// Resumes and starts each run with at most rotation.concurrency in flight. The engine rotates the providers of
// its registry (core/providers/provider-registry.ts); others are listed with a reason. The engine never throws for a credential (it returns
// an outcome), so one bad credential never stops the cycle.
import { classifyError } from "../core/errors.ts";
import type { ClassifyDefaults } from "../core/inventory/classify.ts";
import {
  collectInventory,
  markRotationsWithoutJournal,
  type ScanProgress,
  withReaders,
} from "../core/inventory/collect-inventory.ts";
import type { InventoryItem } from "../core/inventory/inventory-item.ts";
import type { MetadataSource } from "../core/inventory/kv-entry.ts";
import { notRotatedMessage } from "../core/manual/manual-actions.ts";
import { isRotatedByEngine, PROVIDERS } from "../core/providers/provider-registry.ts";
import { DEFAULT_READERS_WINDOW_MS, type ReaderDirectory } from "../core/readers/readers.ts";
import type { StartOptions } from "../core/rotation/engine-deps.ts";
import {
  applyBudget,
  type BudgetLevel,
  decideRotation,
  type RotationDecision,
} from "../core/rotation/rotation-decision.ts";
import type { RotationEngine } from "../core/rotation/rotation-engine.ts";
import type { RotationOutcome } from "../core/rotation/rotation-outcome.ts";
import type { CredentialStore, RotationStateStore } from "../core/rotation/rotation-ports.ts";
import { actorOf } from "../core/rotation/rotation-state.ts";
import type { Clock } from "../core/time.ts";

export interface CycleRow {
  readonly path: string;
  /** resume: an unfinished journal; rotate: a new rotation was started; none: left alone. */
  readonly action: "resume" | "rotate" | "none";
  /** Why: the decision's reason (for rotate and none), or "unfinished rotation" (for resume). */
  readonly reason: string;
  /** Undefined when nothing was called (action none). */
  readonly outcome: RotationOutcome | undefined;
  /** action rotate: what started it. */
  readonly started?: Pick<Start["decision"], "mode" | "trigger"> | undefined;
}

export interface CycleResult {
  /** The whole scan, for the daemon's inventory view and metrics. */
  readonly items: readonly InventoryItem[];
  /** One row per credential that has a journal or is managed (or invalid), sorted by path. */
  readonly rows: readonly CycleRow[];
  readonly scannedAt: Date;
  /** Entries without `provider`: never touched, only counted. */
  readonly unmanaged: number;
}

/** What a cycle needs to scan, decide and rotate: shared by run --once (here) and the daemon's loop. */
export interface ScanAndRotateDeps {
  readonly engine: RotationEngine;
  readonly state: RotationStateStore;
  /** Reads the data of sfmc entries that may hold a pasted pending_api_key. */
  readonly store: Pick<CredentialStore, "read">;
  readonly source: MetadataSource;
  readonly prefixes: readonly string[];
  readonly defaults: ClassifyDefaults;
  readonly clock: Clock;
  readonly concurrency: number;
  /** Who read each credential (the shared reader entries), read once per scan; absent: no `readers:`. */
  readonly readers?: ReaderDirectory | undefined;
  readonly readersWindowMs?: number | undefined;
  /** The reader entries could not be read: the scan goes on, its items without readers. */
  readonly onReadersFailure?: ((err: unknown) => void) | undefined;
}

export interface CycleDeps extends ScanAndRotateDeps {
  readonly onProgress?: ScanProgress | undefined;
  /** The Salesforce API budget per connection (rotation-decision.ts); absent: no pacing (run --once, tests). */
  readonly budgetLevel?: ((connection: string | undefined) => BudgetLevel) | undefined;
}

export async function runRotationCycle(deps: CycleDeps): Promise<CycleResult> {
  const rows = new Map<string, CycleRow>();
  const plan = await planCycle(deps, {
    // run --once waits for every resume before it scans: the decisions then see the state they left.
    resume: (journals) =>
      forEachBounded(journals, deps.concurrency, async (path) => {
        const outcome = await deps.engine.resume(path);
        rows.set(path, { path, action: "resume", reason: "unfinished rotation", outcome });
      }),
    // A resume that did something settles this credential for the cycle. A skipped one (parked after a
    // failure, or another owner's lease), or one that only reported a wait (a soak, an overlap waiting for an
    // operator's confirmation, a backoff), leaves room for an operator's flag to act on it now: rotate=emergency
    // during a soak promotes at once, as in the daemon. The decision rules keep everything else waiting.
    settled: (path) => {
      const resumed = rows.get(path);
      if (resumed === undefined) return undefined;
      const o = resumed.outcome;
      return o?.kind !== "skipped" && o?.kind !== "waiting";
    },
    busy: () => false,
  });
  for (const row of plan.leftAlone) if (!rows.has(row.path)) rows.set(row.path, row);
  for (const row of plan.unread) rows.set(row.path, row);

  await forEachBounded(plan.starts, deps.concurrency, async (start) => {
    const { item, decision } = start;
    const outcome = await deps.engine.start(item.path, startOptions(start));
    const started = { mode: decision.mode, trigger: decision.trigger };
    rows.set(item.path, { path: item.path, action: "rotate", reason: decision.reason, outcome, started });
  });

  const sorted = [...rows.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { rows: sorted, scannedAt: plan.now, unmanaged: plan.unmanaged, items: plan.items };
}

/** What one cycle found to do, for its runner: run --once awaits it, the daemon's loop queues it. */
export interface CyclePlan {
  readonly now: Date;
  /** The whole scan, with rotations that have no journal here marked. */
  readonly items: readonly InventoryItem[];
  /** The unfinished journals found first (handed to `resume` before the scan). */
  readonly journals: ReadonlySet<string>;
  /** What to start, most urgent first: the decisions (flags, deadlines), then the providers' pickups. */
  readonly starts: readonly Start[];
  /** Managed or invalid credentials left alone, with why. */
  readonly leftAlone: readonly CycleRow[];
  /** Entries a pickup could not read (the next cycle tries again). */
  readonly unread: readonly CycleRow[];
  readonly unmanaged: number;
}

export interface CycleHooks {
  /** Told the unfinished journals before the scan: run --once resumes them and waits, the daemon queues them. */
  readonly resume: (journals: readonly string[]) => Promise<void> | void;
  /** See selectStarts: true when the credential was dealt with this cycle, undefined when untouched. */
  readonly settled: (path: string) => boolean | undefined;
  /** Already queued or running in this process: no pickup read for it. */
  readonly busy: (path: string) => boolean;
}

/**
 * The one cycle planner, shared by run --once and the daemon's loop: list the unfinished journals and hand them
 * to `resume`; scan the inventory (metadata only) and mark rotations with no journal here; decide per
 * credential (flags, schedule, windows, the API budget); then run the providers' pickups (a secret pasted into
 * pending_api_key) for what is not already chosen or busy.
 */
export async function planCycle(deps: CycleDeps, hooks: CycleHooks): Promise<CyclePlan> {
  const journals: string[] = [];
  for await (const path of deps.state.listJournals()) journals.push(path);
  await hooks.resume(journals);
  const journalSet = new Set(journals);

  const now = deps.clock.now();
  const scanned = await collectInventory(deps.source, deps.prefixes, now, deps.defaults, deps.onProgress);
  const marked = await markRotationsWithoutJournal(scanned.items, journalSet, () =>
    deps.state.listJournals(),
  );
  const items = await withReaders(
    marked,
    deps.readers,
    now,
    deps.readersWindowMs ?? DEFAULT_READERS_WINDOW_MS,
    deps.onReadersFailure,
  );
  const selection = selectStarts(items, now, { settled: hooks.settled, budgetLevel: deps.budgetLevel });
  const chosen = new Set(selection.starts.map((s) => s.item.path));
  const picked = await findPickups(items, {
    store: deps.store,
    hasJournal: (path) => journalSet.has(path),
    busy: (path) => hooks.busy(path) || chosen.has(path),
    concurrency: deps.concurrency,
  });
  return {
    now,
    items,
    journals: journalSet,
    starts: [...selection.starts, ...picked.starts],
    leftAlone: selection.leftAlone,
    unread: picked.unread,
    unmanaged: selection.unmanaged,
  };
}

export type Start = {
  readonly item: InventoryItem;
  readonly decision: Extract<RotationDecision, { act: true }>;
};

export interface Selection {
  /** What to start now, most urgent first (operators' emergencies, flags, then the schedule by deadline). */
  readonly starts: readonly Start[];
  /** Managed or invalid credentials left alone, with why (not due, held by the API budget, other provider). */
  readonly leftAlone: readonly CycleRow[];
  readonly unmanaged: number;
}

/**
 * The decisions of one cycle over a scan, shared by run --once and the daemon. `settled(path)`: true when the
 * credential was already dealt with this cycle (skip it silently), false when it was looked at but may still be
 * started (a parked resume), undefined when untouched.
 */
export function selectStarts(
  items: readonly InventoryItem[],
  now: Date,
  opts: {
    readonly settled?: (path: string) => boolean | undefined;
    readonly budgetLevel?: ((connection: string | undefined) => BudgetLevel) | undefined;
  } = {},
): Selection {
  const leftAlone: CycleRow[] = [];
  const starts: Start[] = [];
  let unmanaged = 0;
  for (const item of items) {
    if (item.state === "unmanaged") {
      unmanaged += 1;
      continue;
    }
    const settled = opts.settled?.(item.path);
    if (settled === true) continue;
    const decision = decideRotation(item, now, PROVIDERS);
    if (!decision.act) {
      if (settled === undefined) leftAlone.push(none(item.path, decision.reason));
      continue;
    }
    if (!isRotatedByEngine(item.provider)) {
      leftAlone.push(none(item.path, notRotatedMessage(item.provider)));
      continue;
    }
    starts.push({ item, decision });
  }
  starts.sort((a, b) => rank(a) - rank(b) || deadlineOf(a) - deadlineOf(b));
  const budget = applyBudget(
    starts.map(({ item, decision }) => ({
      connection: item.sfConnection,
      emergency: decision.mode === "emergency",
    })),
    opts.budgetLevel ?? (() => "normal"),
  );
  for (const [i, reason] of budget.held) {
    const held = starts[i];
    if (held !== undefined) leftAlone.push(none(held.item.path, reason));
  }
  return { starts: budget.start.flatMap((i) => starts[i] ?? []), leftAlone, unmanaged };
}

/** How the engine is asked to start what the cycle chose. */
export function startOptions({ item, decision }: Start): StartOptions {
  return {
    mode: decision.mode,
    trigger: decision.trigger,
    actor: actorOf(decision.trigger),
    // The schedule (and a paste) acts on what it saw: a credential changed since the scan is decided again.
    expectKvVersion: decision.trigger === "flag" ? undefined : item.currentVersion,
    // The schedule also needs the rotation it saw as the last one to still be the last (none failed meanwhile).
    ...(decision.trigger === "schedule" ? { expectLastRotated: item.lastRotated } : {}),
  };
}

function rank({ decision }: Start): number {
  if (decision.mode === "emergency") return 0;
  return decision.trigger === "flag" ? 1 : 2;
}

function deadlineOf({ item }: Start): number {
  return item.deadline?.getTime() ?? Number.POSITIVE_INFINITY;
}

function none(path: string, reason: string): CycleRow {
  return { path, action: "none", reason, outcome: undefined };
}

export interface PickupScanDeps {
  readonly store: Pick<CredentialStore, "read">;
  /** An unfinished or parked journal exists for the path (it is resumed, never restarted). */
  readonly hasJournal: (path: string) => boolean;
  /** Already started, queued or settled this cycle. */
  readonly busy: (path: string) => boolean;
  readonly concurrency: number;
}

export interface PickupScanResult {
  readonly starts: readonly Start[];
  /** Entries that could not be read, with the error code (the next scan tries again). */
  readonly unread: readonly CycleRow[];
}

/**
 * After the flags and deadlines (run --once and the daemon): the entries a provider's pickup finds worth a look
 * (sfmc: a KV version newer than the rotator's last word, which may hold a pasted pending_api_key) are read once
 * and started with trigger "pending", like a flag. The secret read here is dropped at once: the engine reads it
 * again under its lease.
 */
export async function findPickups(
  items: readonly InventoryItem[],
  deps: PickupScanDeps,
): Promise<PickupScanResult> {
  const candidates = items.flatMap((item) => {
    const pickup = deps.busy(item.path) ? undefined : PROVIDERS.pickupFor(item, deps.hasJournal(item.path));
    return pickup === undefined ? [] : [{ item, pickup }];
  });
  const starts: Start[] = [];
  const unread: CycleRow[] = [];
  await forEachBounded(candidates, deps.concurrency, async ({ item, pickup }) => {
    try {
      const cred = await deps.store.read(item.path);
      const found = cred === undefined ? undefined : pickup.decide(cred);
      if (found !== undefined) starts.push({ item, decision: { act: true, trigger: "pending", ...found } });
    } catch (err) {
      const reason = `could not read ${pickup.looksFor} (${classifyError(err)}); the next scan tries again`;
      unread.push({ path: item.path, action: "none", reason, outcome: undefined });
    }
  });
  starts.sort((a, b) => (a.item.path < b.item.path ? -1 : a.item.path > b.item.path ? 1 : 0));
  return { starts, unread };
}

/** Runs `fn` over `items` with at most `limit` calls in flight; resolves when all are done. */
export async function forEachBounded<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next] as T;
      next += 1;
      await fn(item);
    }
  };
  const workers = Math.max(1, Math.min(limit, items.length));
  await Promise.all(Array.from({ length: workers }, worker));
}
