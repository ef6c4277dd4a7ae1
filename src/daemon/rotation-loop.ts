// The daemon's heart: every scan_interval one tick resumes unfinished journals (a crash, a soak that has run
// out, a takeover from a dead replica), scans the inventory, and starts what is flagged or due. Unlike
// `run --once`, a tick never waits for rotations: they run in a pool of rotation.concurrency workers while
// later ticks keep scanning, and a credential already queued or running here is left out of new decisions.
// Leases in Vault keep replicas apart; this file only keeps one process from racing itself.

import { planCycle, type ScanAndRotateDeps, startOptions } from "../app/rotation-cycle.ts";
import { classifyError } from "../core/errors.ts";
import type { InventoryItem } from "../core/inventory/inventory-item.ts";
import type { StartOptions } from "../core/rotation/engine-deps.ts";
import type { BudgetLevel } from "../core/rotation/rotation-decision.ts";
import type { RotationOutcome } from "../core/rotation/rotation-outcome.ts";
import type { RotationTracker } from "./rotation-tracker.ts";

export interface RotationLoopDeps extends ScanAndRotateDeps {
  readonly intervalMs: number;
  readonly budgetLevel: (connection: string | undefined) => BudgetLevel;
  readonly tracker: RotationTracker;
  readonly ids: () => string;
  readonly onScan: (
    items: readonly InventoryItem[],
    scannedAt: Date,
    durationMs: number,
  ) => Promise<void> | void;
  readonly onScanFailure: (err: unknown) => void;
  /** sfmc entries whose data could not be read to look for a pasted pending_api_key (next tick tries again). */
  readonly onPendingUnread?: ((rows: readonly { path: string; reason: string }[]) => void) | undefined;
  /** Credentials that were due or flagged but held back this tick (the Salesforce API budget), with why. */
  readonly onHeld?: ((rows: readonly { path: string; reason: string }[]) => void) | undefined;
  readonly onOutcome: (outcome: RotationOutcome, task: { path: string; kind: "resume" | "start" }) => void;
  /** An engine call threw (a bug: the engine returns outcomes); logged, never fatal. */
  readonly onTaskError: (err: unknown, path: string) => void;
}

interface Task {
  readonly path: string;
  readonly kind: "resume" | "start";
  readonly rotationId: string | undefined;
  readonly opts: StartOptions | undefined;
}

export class RotationLoop {
  readonly #d: RotationLoopDeps;
  readonly #queue: Task[] = [];
  /** Paths queued or running in this process. */
  readonly #inFlight = new Set<string>();
  /**
   * Soaking or retiring journals, and failed attempts backing off: not worth a resume before this time (unless
   * the process restarts; the journal's retry_after still holds the backoff then).
   */
  readonly #notBefore = new Map<string, number>();
  /** Soaks waiting for their readers (soak_until=readers): a read of one is worth a look at the next tick. */
  readonly #waitingForReaders = new Set<string>();
  readonly #running = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #tick: Promise<void> | undefined;
  #stopping = false;
  #lastScanAt: Date | undefined;
  #lastScanError: unknown;

  constructor(deps: RotationLoopDeps) {
    this.#d = deps;
  }

  start(): void {
    this.#schedule(0);
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  get lastScan(): { readonly at: Date | undefined; readonly error: unknown } {
    return { at: this.#lastScanAt, error: this.#lastScanError };
  }

  isBusy(path: string): boolean {
    return this.#inFlight.has(path);
  }

  /**
   * The reader feed saw `path` read. A soak waiting for its readers is looked at again at the next tick instead
   * of at its next minute, so it promotes right after the last reader moves; at most one look per tick however
   * often the path is read.
   */
  readerSeen(path: string): void {
    if (this.#waitingForReaders.delete(path)) this.#notBefore.delete(path);
  }

  /** Queues a rotation asked for through the API. False when stopping or the path is already queued or running. */
  requestStart(path: string, rotationId: string, opts: StartOptions): boolean {
    if (this.#stopping || this.#inFlight.has(path)) return false;
    this.#enqueue({ path, kind: "start", rotationId, opts: { ...opts, rotationId } });
    return true;
  }

  /** Runs one tick now (tests, and the first scan at start-up); ticks never overlap. */
  async tickNow(): Promise<void> {
    if (this.#tick !== undefined) return this.#tick;
    this.#tick = this.#runTick().finally(() => {
      this.#tick = undefined;
    });
    return this.#tick;
  }

  /**
   * Stops ticking and taking work; queued tasks are dropped (the next start finds them again); running ones
   * reach their next step boundary (the engine's shouldPause) or the deadline passes. Resolves with how many
   * rotations were still running at the deadline.
   */
  async stop(timeoutMs: number): Promise<number> {
    this.#stopping = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    for (const task of this.#queue.splice(0)) {
      this.#inFlight.delete(task.path);
      if (task.rotationId !== undefined) {
        this.#d.tracker.onOutcome(
          {
            kind: "skipped",
            path: task.path,
            rotationId: task.rotationId,
            mode: task.opts?.mode,
            sinkFailures: 0,
            reason: "the rotator stopped before this rotation started; ask again",
            code: undefined,
          },
          task.rotationId,
          this.#d.clock.now(),
        );
      }
    }
    const all = Promise.all([this.#tick, ...this.#running]).then(() => 0);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<number>((resolve) => {
      timer = setTimeout(() => resolve(this.#running.size), timeoutMs);
    });
    try {
      return await Promise.race([all, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  #schedule(ms: number): void {
    if (this.#stopping) return;
    this.#timer = setTimeout(() => {
      void this.tickNow().finally(() => this.#schedule(this.#d.intervalMs));
    }, ms);
  }

  async #runTick(): Promise<void> {
    if (this.#stopping) return;
    const d = this.#d;
    const started = performance.now();
    try {
      const nowMs = d.clock.now().getTime();
      const plan = await planCycle(d, {
        // A tick never waits for rotations: resumes are queued, except what is already here or backing off.
        resume: (journals) => {
          for (const path of journals) {
            if (this.#stopping) return;
            if (this.#inFlight.has(path) || (this.#notBefore.get(path) ?? 0) > nowMs) continue;
            this.#enqueue({ path, kind: "resume", rotationId: undefined, opts: undefined });
          }
        },
        settled: (path) => (this.#inFlight.has(path) ? true : undefined),
        busy: (path) => this.#inFlight.has(path),
      });
      if (this.#stopping) return;
      const now = plan.now;
      const held = plan.leftAlone.filter((r) => r.reason.startsWith("Salesforce API usage"));
      if (held.length > 0) d.onHeld?.(held);
      if (plan.unread.length > 0) d.onPendingUnread?.(plan.unread);
      for (const start of plan.starts) {
        if (this.#stopping) break;
        const rotationId = d.ids();
        this.#enqueue({
          path: start.item.path,
          kind: "start",
          rotationId,
          opts: { ...startOptions(start), rotationId },
        });
      }
      this.#lastScanAt = now;
      this.#lastScanError = undefined;
      await d.onScan(plan.items, now, performance.now() - started);
    } catch (err) {
      this.#lastScanError = err;
      d.onScanFailure(err);
    }
  }

  #enqueue(task: Task): void {
    this.#inFlight.add(task.path);
    if (task.kind === "start" && task.rotationId !== undefined && task.opts !== undefined) {
      this.#d.tracker.queued({
        rotationId: task.rotationId,
        path: task.path,
        mode: task.opts.mode,
        trigger: task.opts.trigger,
        actor: task.opts.actor,
        requestedAt: this.#d.clock.now(),
      });
    }
    this.#queue.push(task);
    this.#pump();
  }

  #pump(): void {
    while (!this.#stopping && this.#running.size < this.#d.concurrency && this.#queue.length > 0) {
      const task = this.#queue.shift();
      if (task === undefined) break;
      const p: Promise<void> = this.#run(task).finally(() => {
        this.#running.delete(p);
        this.#inFlight.delete(task.path);
        this.#pump();
      });
      this.#running.add(p);
    }
  }

  async #run(task: Task): Promise<void> {
    const d = this.#d;
    if (task.rotationId !== undefined) d.tracker.running(task.rotationId);
    try {
      const outcome =
        task.kind === "resume" || task.opts === undefined
          ? await d.engine.resume(task.path)
          : await d.engine.start(task.path, task.opts);
      if (outcome.kind === "waiting" && outcome.waiting === "readers") this.#waitingForReaders.add(task.path);
      else this.#waitingForReaders.delete(task.path);
      if (outcome.kind === "waiting") this.#notBefore.set(task.path, outcome.until.getTime());
      else if (outcome.kind === "failed" && outcome.willRetry && outcome.retryAt !== undefined)
        this.#notBefore.set(task.path, outcome.retryAt.getTime());
      else this.#notBefore.delete(task.path);
      d.tracker.onOutcome(outcome, task.rotationId, d.clock.now());
      d.onOutcome(outcome, { path: task.path, kind: task.kind });
    } catch (err) {
      d.onTaskError(err, task.path);
      // Close the rotation this task stood for: left "running" in the tracker, it would answer every later
      // rotate request for the path with 409. An unfinished journal is still resumed by the next tick.
      const rotationId = task.rotationId ?? d.tracker.activeFor(task.path)?.rotationId;
      if (rotationId !== undefined) {
        d.tracker.onOutcome(
          {
            kind: "failed",
            path: task.path,
            rotationId,
            mode: task.opts?.mode,
            sinkFailures: 0,
            step: undefined,
            code: classifyError(err),
            message: "the rotation stopped on an unexpected error; the rotator's log has the details",
            willRetry: false,
            attempts: 0,
          },
          rotationId,
          d.clock.now(),
        );
      }
    }
  }
}
