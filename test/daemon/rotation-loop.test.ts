// RotationLoop over in-memory fakes: a scripted engine whose calls the test answers by hand (so "in flight"
// is under the test's control), plus one run with the real engine from rotation-world.
import { describe, expect, it } from "vitest";
import { RotatorError } from "../../src/core/errors.ts";
import { DEFAULT_CLASSIFY_DEFAULTS } from "../../src/core/inventory/classify.ts";
import type { InventoryItem } from "../../src/core/inventory/inventory-item.ts";
import type { MetadataSource, ScanItem } from "../../src/core/inventory/kv-entry.ts";
import type { StartOptions } from "../../src/core/rotation/engine-deps.ts";
import type { BudgetLevel } from "../../src/core/rotation/rotation-decision.ts";
import type { RotationEngine } from "../../src/core/rotation/rotation-engine.ts";
import type { RotationOutcome } from "../../src/core/rotation/rotation-outcome.ts";
import { FixedClock } from "../../src/core/time.ts";
import { RotationLoop, type RotationLoopDeps } from "../../src/daemon/rotation-loop.ts";
import { RotationTracker } from "../../src/daemon/rotation-tracker.ts";
import { MPATH, makeSfmcEngine, makeSfmcWorld, NEW } from "../core/providers/sfmc/sfmc-world.ts";
import {
  makeEngine,
  makeWorld,
  PATH as WORLD_PATH,
  T0 as WORLD_T0,
} from "../core/rotation/rotation-world.ts";
import { InMemoryCredentialStore } from "../fakes/in-memory-credential-store.ts";
import { InMemoryMetadataSource } from "../fakes/in-memory-metadata-source.ts";
import { InMemoryStateStore } from "../fakes/in-memory-state-store.ts";
import { kvEntry } from "../fakes/kv-entry-builder.ts";

const T0 = "2026-03-02T10:00:00.000Z";
const PREFIX = "api-credentials";
const MINUTE = 60_000;

// ---- the scripted engine ------------------------------------------------------------------------------------

interface Call {
  readonly kind: "start" | "resume";
  readonly path: string;
  readonly opts: StartOptions | undefined;
  answer(outcome: RotationOutcome): void;
  fail(err: unknown): void;
}

class ScriptedEngine implements RotationEngine {
  readonly calls: Call[] = [];
  inFlight = 0;
  maxInFlight = 0;
  /** Answers at once instead of waiting for the test (undefined: wait). */
  auto: ((call: Omit<Call, "answer" | "fail">) => RotationOutcome) | undefined;

  start(path: string, opts: StartOptions): Promise<RotationOutcome> {
    return this.#call("start", path, opts);
  }

  resume(path: string): Promise<RotationOutcome> {
    return this.#call("resume", path, undefined);
  }

  rollback(): Promise<RotationOutcome> {
    throw new Error("not used by the loop");
  }

  plan(): never {
    throw new Error("not used by the loop");
  }
  adopt(): never {
    throw new Error("not used by the loop");
  }

  pending(): Call[] {
    return this.calls.filter((c) => !(c as { done?: boolean }).done);
  }

  /** The open call for `path` (the first one). */
  open(path: string): Call {
    const call = this.pending().find((c) => c.path === path);
    if (call === undefined) throw new Error(`no open engine call for ${path}`);
    return call;
  }

  #call(kind: Call["kind"], path: string, opts: StartOptions | undefined): Promise<RotationOutcome> {
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise<RotationOutcome>((resolve, reject) => {
      const call = {
        kind,
        path,
        opts,
        done: false,
        answer: (o: RotationOutcome) => {
          call.done = true;
          this.inFlight -= 1;
          resolve(o);
        },
        fail: (err: unknown) => {
          call.done = true;
          this.inFlight -= 1;
          reject(err);
        },
      };
      this.calls.push(call);
      if (this.auto !== undefined) call.answer(this.auto(call));
    });
  }
}

// ---- outcomes -----------------------------------------------------------------------------------------------

const base = (path: string, rotationId: string | undefined) => ({
  path,
  rotationId,
  mode: "standard" as const,
  sinkFailures: 0,
});

function completed(path: string, rotationId?: string): RotationOutcome {
  return {
    ...base(path, rotationId),
    kind: "completed",
    kvVersion: 2,
    keyFingerprint: "fp",
    durationMs: 5,
    outageMs: undefined,
  };
}

function waiting(
  path: string,
  until: Date,
  rotationId = "rot-journal",
  wait: "soak" | "readers" = "soak",
): RotationOutcome {
  return { ...base(path, rotationId), kind: "waiting", step: "published", waiting: wait, until };
}

function retrying(path: string, rotationId = "rot-journal"): RotationOutcome {
  return {
    ...base(path, rotationId),
    kind: "failed",
    step: "staged",
    code: "SALESFORCE_UNAVAILABLE",
    message: "Salesforce did not answer",
    willRetry: true,
    attempts: 1,
  };
}

// ---- the world around the loop ------------------------------------------------------------------------------

const managed = (extra: Record<string, string> = {}) => ({
  provider: "salesforce-eca",
  eca_app_id: "0xIWt0000000001AAA",
  sf_connection: "prod",
  rotation_period: "30d",
  ...extra,
});

/** A flagged credential (rotate=now, or emergency), created recently so the schedule alone would not act. */
function flagged(name: string, mode: "now" | "emergency" = "now"): ScanItem {
  return {
    kind: "entry",
    entry: kvEntry(`${PREFIX}/${name}`, managed({ rotate: mode }), { createdTime: "2026-03-01T00:00:00Z" }),
  };
}

/** A credential past its deadline (30 days from January), at KV version `version`. */
function due(name: string, version = 1): ScanItem {
  return {
    kind: "entry",
    entry: kvEntry(`${PREFIX}/${name}`, managed(), {
      createdTime: "2026-01-01T00:00:00Z",
      currentVersion: version,
    }),
  };
}

function fresh(name: string): ScanItem {
  return {
    kind: "entry",
    entry: kvEntry(`${PREFIX}/${name}`, managed(), { createdTime: "2026-03-01T00:00:00Z" }),
  };
}

interface Harness {
  readonly loop: RotationLoop;
  readonly engine: ScriptedEngine;
  readonly source: InMemoryMetadataSource;
  readonly state: InMemoryStateStore;
  readonly clock: FixedClock;
  readonly tracker: RotationTracker;
  readonly scans: { items: readonly InventoryItem[]; at: Date }[];
  readonly scanFailures: unknown[];
  readonly outcomes: { outcome: RotationOutcome; task: { path: string; kind: string } }[];
  readonly taskErrors: { err: unknown; path: string }[];
}

function harness(
  opts: {
    items?: ScanItem[];
    concurrency?: number;
    budgetLevel?: (connection: string | undefined) => BudgetLevel;
    intervalMs?: number;
  } = {},
): Harness {
  const engine = new ScriptedEngine();
  const source = new InMemoryMetadataSource(opts.items ?? []);
  const state = new InMemoryStateStore();
  const clock = new FixedClock(T0);
  const tracker = new RotationTracker();
  const scans: Harness["scans"] = [];
  const scanFailures: unknown[] = [];
  const outcomes: Harness["outcomes"] = [];
  const taskErrors: Harness["taskErrors"] = [];
  let serial = 0;
  const deps: RotationLoopDeps = {
    engine,
    state,
    store: new InMemoryCredentialStore(),
    source,
    prefixes: [PREFIX],
    defaults: DEFAULT_CLASSIFY_DEFAULTS,
    clock,
    concurrency: opts.concurrency ?? 4,
    intervalMs: opts.intervalMs ?? 60 * MINUTE,
    budgetLevel: opts.budgetLevel ?? (() => "normal"),
    tracker,
    ids: () => `rot-${++serial}`,
    onScan: (items, at) => {
      scans.push({ items, at });
    },
    onScanFailure: (err) => scanFailures.push(err),
    onOutcome: (outcome, task) => outcomes.push({ outcome, task }),
    onTaskError: (err, path) => taskErrors.push({ err, path }),
  };
  return {
    loop: new RotationLoop(deps),
    engine,
    source,
    state,
    clock,
    tracker,
    scans,
    scanFailures,
    outcomes,
    taskErrors,
  };
}

/** Lets every settled promise chain run (engine answers → pool bookkeeping → the next task). */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** An unfinished journal for `path` (the loop only lists journals; the engine reads them). */
function journal(state: InMemoryStateStore, path: string): void {
  state.putRawJournal(path, { path });
}

const START: StartOptions = { mode: "standard", trigger: "http", actor: "http:ops" };

// ---- tests --------------------------------------------------------------------------------------------------

describe("RotationLoop", () => {
  it("keeps at most `concurrency` engine calls in flight and runs the rest as calls finish", async () => {
    const h = harness({ concurrency: 2, items: ["a", "b", "c", "d", "e"].map((n) => flagged(n)) });
    await h.loop.tickNow();
    await flush();
    expect(h.engine.calls).toHaveLength(2);
    expect(h.engine.inFlight).toBe(2);

    for (let done = 0; done < 5; done++) {
      const next = h.engine.pending()[0];
      if (next === undefined) throw new Error("the pool stalled");
      next.answer(completed(next.path, next.opts?.rotationId));
      await flush();
      expect(h.engine.inFlight).toBeLessThanOrEqual(2);
    }
    expect(h.engine.calls.map((c) => c.path).sort()).toEqual(
      ["a", "b", "c", "d", "e"].map((n) => `${PREFIX}/${n}`),
    );
    expect(h.engine.maxInFlight).toBe(2);
    expect(h.engine.pending()).toHaveLength(0);
    expect(h.outcomes).toHaveLength(5);
  });

  it("does not start a path again while it is running, neither from a later tick nor from requestStart", async () => {
    const h = harness({ items: [flagged("a")] });
    await h.loop.tickNow();
    await flush();
    expect(h.engine.calls).toHaveLength(1);
    expect(h.loop.isBusy(`${PREFIX}/a`)).toBe(true);

    await h.loop.tickNow();
    await flush();
    expect(h.engine.calls).toHaveLength(1);
    expect(h.loop.requestStart(`${PREFIX}/a`, "rot-http", START)).toBe(false);
    expect(h.tracker.get("rot-http")).toBeUndefined();

    h.engine.open(`${PREFIX}/a`).answer(completed(`${PREFIX}/a`, "rot-1"));
    await flush();
    expect(h.loop.isBusy(`${PREFIX}/a`)).toBe(false);
    // The flag is still set in this fake source, so the next tick decides to start it again.
    await h.loop.tickNow();
    await flush();
    expect(h.engine.calls).toHaveLength(2);
  });

  it("does not start a path again while it is queued behind a full pool", async () => {
    const h = harness({ concurrency: 1, items: [flagged("a"), flagged("b")] });
    await h.loop.tickNow();
    await flush();
    expect(h.engine.calls.map((c) => c.path)).toEqual([`${PREFIX}/a`]);
    const queuedPath = `${PREFIX}/b`;
    expect(h.loop.isBusy(queuedPath)).toBe(true);

    await h.loop.tickNow();
    expect(h.loop.requestStart(queuedPath, "rot-http", START)).toBe(false);
    h.engine.open(`${PREFIX}/a`).answer(completed(`${PREFIX}/a`, "rot-1"));
    await flush();
    h.engine.open(queuedPath).answer(completed(queuedPath, "rot-2"));
    await flush();
    expect(h.engine.calls.map((c) => c.path)).toEqual([`${PREFIX}/a`, queuedPath]);
  });

  it("queues a requested start with the caller's rotation id and tracks it queued, running, then final", async () => {
    const h = harness();
    expect(h.loop.requestStart(`${PREFIX}/a`, "rot-http", START)).toBe(true);
    expect(h.tracker.get("rot-http")).toMatchObject({
      status: "running",
      trigger: "http",
      actor: "http:ops",
    });
    await flush();
    const call = h.engine.open(`${PREFIX}/a`);
    expect(call.kind).toBe("start");
    expect(call.opts).toEqual({ ...START, rotationId: "rot-http" });
    call.answer(completed(`${PREFIX}/a`, "rot-http"));
    await flush();
    expect(h.tracker.get("rot-http")?.status).toBe("completed");
    expect(h.outcomes[0]?.task).toEqual({ path: `${PREFIX}/a`, kind: "start" });
  });

  it("tracks a request queued behind a full pool as queued until a worker takes it", async () => {
    const h = harness({ concurrency: 1 });
    h.loop.requestStart(`${PREFIX}/a`, "rot-a", START);
    h.loop.requestStart(`${PREFIX}/b`, "rot-b", START);
    expect(h.tracker.get("rot-a")?.status).toBe("running");
    expect(h.tracker.get("rot-b")?.status).toBe("queued");
    h.engine.open(`${PREFIX}/a`).answer(completed(`${PREFIX}/a`, "rot-a"));
    await flush();
    expect(h.tracker.get("rot-b")?.status).toBe("running");
  });

  it("resumes unfinished journals every tick, except while a waiting outcome's `until` is in the future", async () => {
    const h = harness();
    const j = `${PREFIX}/soaking`;
    journal(h.state, j);

    await h.loop.tickNow();
    await flush();
    expect(h.engine.calls.map((c) => [c.kind, c.path])).toEqual([["resume", j]]);
    h.engine.open(j).answer(waiting(j, new Date(h.clock.now().getTime() + 15 * MINUTE)));
    await flush();

    // Still soaking: no resume, tick after tick.
    h.clock.advance(10 * MINUTE);
    await h.loop.tickNow();
    await h.loop.tickNow();
    await flush();
    expect(h.engine.calls).toHaveLength(1);

    // The soak is over: resumed again, and after a failure the engine will retry, at every tick.
    h.clock.advance(5 * MINUTE);
    await h.loop.tickNow();
    await flush();
    expect(h.engine.calls).toHaveLength(2);
    h.engine.open(j).answer(retrying(j));
    await flush();
    await h.loop.tickNow();
    await flush();
    expect(h.engine.calls.map((c) => c.kind)).toEqual(["resume", "resume", "resume"]);
    expect(h.outcomes.map((o) => o.task.kind)).toEqual(["resume", "resume"]);
  });

  it("looks again at the next tick when a soak waiting for readers sees its path read, at most once per read", async () => {
    const h = harness();
    const j = `${PREFIX}/readers`;
    const other = `${PREFIX}/soak-of-time`;
    journal(h.state, j);
    journal(h.state, other);
    await h.loop.tickNow();
    await flush();
    const inAMinute = () => new Date(h.clock.now().getTime() + MINUTE);
    h.engine
      .open(j)
      .answer({ ...(waiting(j, inAMinute()) as object), waiting: "readers" } as RotationOutcome);
    h.engine.open(other).answer(waiting(other, inAMinute()));
    await flush();

    // A read of another path, or of a soak that waits for time, changes nothing.
    h.loop.readerSeen(`${PREFIX}/unrelated`);
    h.loop.readerSeen(other);
    await h.loop.tickNow();
    await flush();
    expect(h.engine.calls).toHaveLength(2);

    // Its reader read it: one look at the next tick, however many reads came in between.
    h.loop.readerSeen(j);
    h.loop.readerSeen(j);
    await h.loop.tickNow();
    await flush();
    expect(h.engine.calls.map((c) => c.path)).toEqual([j, other, j]);
    h.engine
      .open(j)
      .answer({ ...(waiting(j, inAMinute()) as object), waiting: "readers" } as RotationOutcome);
    await flush();
    await h.loop.tickNow();
    await flush();
    expect(h.engine.calls).toHaveLength(3);
  });

  it("leaves a failed attempt alone until the backoff it reports (retryAt) has passed", async () => {
    const h = harness();
    const j = `${PREFIX}/backing-off`;
    journal(h.state, j);
    await h.loop.tickNow();
    await flush();
    const retryAt = new Date(h.clock.now().getTime() + 4 * MINUTE);
    h.engine.open(j).answer({ ...retrying(j), retryAt } as RotationOutcome);
    await flush();
    h.clock.advance(3 * MINUTE);
    await h.loop.tickNow();
    await h.loop.tickNow();
    await flush();
    expect(h.engine.calls).toHaveLength(1);
    h.clock.advance(MINUTE);
    await h.loop.tickNow();
    await flush();
    expect(h.engine.calls.map((c) => c.kind)).toEqual(["resume", "resume"]);
  });

  it("resumes a path it started and left waiting once its `until` has passed", async () => {
    const h = harness({ items: [flagged("a")] });
    await h.loop.tickNow();
    await flush();
    const path = `${PREFIX}/a`;
    h.engine.open(path).answer(waiting(path, new Date(h.clock.now().getTime() + MINUTE), "rot-1"));
    await flush();
    expect(h.tracker.get("rot-1")?.status).toBe("waiting");
    // The journal the start left behind; the source now shows the rotation under way (no flag).
    journal(h.state, path);
    h.source.add(
      kvEntry(path, managed({ rotation_state: "in_progress" }), { createdTime: "2026-03-01T00:00:00Z" }),
    );
    await h.loop.tickNow();
    await flush();
    expect(h.engine.calls).toHaveLength(1);
    h.clock.advance(MINUTE);
    await h.loop.tickNow();
    await flush();
    expect(h.engine.calls.map((c) => c.kind)).toEqual(["start", "resume"]);
  });

  it("starts flagged credentials as trigger flag by operator-flag and due ones by the schedule at the version seen", async () => {
    const h = harness({ items: [flagged("flag"), due("due", 7), fresh("fine")] });
    h.engine.auto = (c) => completed(c.path, c.opts?.rotationId);
    await h.loop.tickNow();
    await flush();
    const byPath = new Map(h.engine.calls.map((c) => [c.path, c]));
    expect(byPath.size).toBe(2);
    expect(byPath.get(`${PREFIX}/flag`)?.opts).toMatchObject({
      mode: "standard",
      trigger: "flag",
      actor: "operator-flag",
      expectKvVersion: undefined,
    });
    expect(byPath.get(`${PREFIX}/due`)?.opts).toMatchObject({
      mode: "standard",
      trigger: "schedule",
      actor: "scheduler",
      expectKvVersion: 7,
    });
    // Each start carries a fresh id that the tracker knows.
    for (const c of h.engine.calls) {
      const id = c.opts?.rotationId;
      expect(id).toMatch(/^rot-\d+$/);
      expect(h.tracker.get(id ?? "")).toMatchObject({ path: c.path, status: "completed" });
    }
    // Most urgent first: the flag before the schedule.
    expect(h.engine.calls.map((c) => c.path)).toEqual([`${PREFIX}/flag`, `${PREFIX}/due`]);
  });

  it("holds standard starts while the API budget says stop, but lets an emergency through", async () => {
    const h = harness({
      items: [flagged("now"), flagged("leaked", "emergency"), due("due")],
      budgetLevel: () => "stop",
    });
    h.engine.auto = (c) => completed(c.path, c.opts?.rotationId);
    await h.loop.tickNow();
    await flush();
    expect(h.engine.calls.map((c) => [c.path, c.opts?.mode])).toEqual([[`${PREFIX}/leaked`, "emergency"]]);
  });

  it("never runs two ticks at once: a tick asked for during one joins it", async () => {
    const h = harness({ items: [fresh("fine")] });
    await Promise.all([h.loop.tickNow(), h.loop.tickNow(), h.loop.tickNow()]);
    expect(h.source.scannedPrefixes).toEqual([PREFIX]);
    expect(h.scans).toHaveLength(1);
    await h.loop.tickNow();
    expect(h.scans).toHaveLength(2);
  });

  it("drops queued work when stopped (the tracker shows it skipped) and waits for running rotations", async () => {
    const h = harness({ concurrency: 1 });
    for (const n of ["a", "b", "c"]) h.loop.requestStart(`${PREFIX}/${n}`, `rot-${n}`, START);
    await flush();
    expect(h.engine.calls).toHaveLength(1);

    let stopped: number | undefined;
    const stopping = h.loop.stop(5_000).then((n) => {
      stopped = n;
    });
    expect(h.loop.stopping).toBe(true);
    for (const id of ["rot-b", "rot-c"]) {
      expect(h.tracker.get(id)).toMatchObject({
        status: "skipped",
        message: "the rotator stopped before this rotation started; ask again",
      });
    }
    expect(h.loop.isBusy(`${PREFIX}/b`)).toBe(false);
    await flush();
    expect(stopped).toBeUndefined(); // the running one is still going

    h.engine.open(`${PREFIX}/a`).answer(completed(`${PREFIX}/a`, "rot-a"));
    await stopping;
    expect(stopped).toBe(0);
    expect(h.engine.calls).toHaveLength(1);
    expect(h.tracker.get("rot-a")?.status).toBe("completed");

    // Stopped: no new work from requests or ticks.
    expect(h.loop.requestStart(`${PREFIX}/d`, "rot-d", START)).toBe(false);
    await h.loop.tickNow();
    expect(h.scans).toHaveLength(0);
  });

  it("returns how many rotations were still running when the stop deadline passed", async () => {
    const h = harness({ concurrency: 2 });
    h.loop.requestStart(`${PREFIX}/a`, "rot-a", START);
    h.loop.requestStart(`${PREFIX}/b`, "rot-b", START);
    await flush();
    h.engine.open(`${PREFIX}/a`).answer(completed(`${PREFIX}/a`, "rot-a"));
    await flush();
    const started = performance.now();
    expect(await h.loop.stop(50)).toBe(1);
    expect(performance.now() - started).toBeLessThan(1_000);
    h.engine.open(`${PREFIX}/b`).answer(completed(`${PREFIX}/b`, "rot-b"));
  });

  it("reports a failed scan through onScanFailure and lastScan.error, keeping the last good scan's time", async () => {
    const h = harness({ items: [fresh("fine")] });
    expect(h.loop.lastScan).toEqual({ at: undefined, error: undefined });
    await h.loop.tickNow();
    const firstAt = h.clock.now();
    expect(h.loop.lastScan).toEqual({ at: firstAt, error: undefined });

    const down = new RotatorError("VAULT_UNAVAILABLE", "Vault is down", { retryable: true });
    h.source.failPrefix(PREFIX, down);
    h.clock.advance(MINUTE);
    await h.loop.tickNow();
    expect(h.scanFailures).toEqual([down]);
    expect(h.loop.lastScan).toEqual({ at: firstAt, error: down });
    expect(h.scans).toHaveLength(1);
  });

  it("reports a failed journal listing as a failed scan", async () => {
    const h = harness();
    const denied = new RotatorError("VAULT_PERMISSION_DENIED", "no list on the state prefix");
    h.state.failNext("listJournals", denied);
    await h.loop.tickNow();
    expect(h.scanFailures).toEqual([denied]);
    expect(h.loop.lastScan).toEqual({ at: undefined, error: denied });
  });

  it("hands every scanned item to onScan with the scan time", async () => {
    const h = harness({ items: [fresh("fine"), due("due"), flagged("flag")] });
    h.engine.auto = (c) => completed(c.path, c.opts?.rotationId);
    await h.loop.tickNow();
    expect(h.scans).toHaveLength(1);
    expect(h.scans[0]?.at).toEqual(new Date(T0));
    expect(h.scans[0]?.items.map((i) => [i.path, i.state])).toEqual([
      [`${PREFIX}/due`, "overdue"],
      [`${PREFIX}/fine`, "ok"],
      [`${PREFIX}/flag`, "flagged"],
    ]);
  });

  it("reports an engine call that throws through onTaskError and does not leave its rotation running", async () => {
    const h = harness();
    const path = `${PREFIX}/a`;
    h.loop.requestStart(path, "rot-a", START);
    await flush();
    h.engine.open(path).fail(new RotatorError("INTERNAL_INVARIANT", "a bug"));
    await flush();
    expect(h.taskErrors.map((e) => e.path)).toEqual([path]);
    expect(h.loop.isBusy(path)).toBe(false);
    expect(h.tracker.activeFor(path)).toBeUndefined();
    expect(h.tracker.get("rot-a")).toMatchObject({ status: "failed", errorCode: "INTERNAL_INVARIANT" });
    // The path is free again for the next request.
    expect(h.loop.requestStart(path, "rot-b", START)).toBe(true);
  });

  it("closes the rotation a throwing resume was running (known here only from its audit events)", async () => {
    const h = harness();
    const path = `${PREFIX}/j`;
    journal(h.state, path);
    await h.loop.tickNow();
    await flush();
    h.tracker.onEvent({
      type: "rotation.resumed",
      time: T0,
      rotationId: "rot-journal",
      path,
      provider: "salesforce-eca",
      mode: "standard",
      trigger: "schedule",
      actor: "scheduler",
      step: "staged",
    });
    h.engine.open(path).fail(new Error("boom"));
    await flush();
    expect(h.tracker.get("rot-journal")).toMatchObject({ status: "failed", errorCode: "UNCLASSIFIED" });
    expect(h.tracker.get("rot-journal")?.message).not.toContain("boom");
    // The journal is still there: the next tick resumes it.
    await h.loop.tickNow();
    await flush();
    expect(h.engine.calls.map((c) => c.kind)).toEqual(["resume", "resume"]);
  });

  it("ticks on its own every intervalMs once started, until stopped", async () => {
    const h = harness({ items: [fresh("fine")], intervalMs: 20 });
    h.loop.start();
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await h.loop.stop(1_000)).toBe(0);
    const ticks = h.scans.length;
    expect(ticks).toBeGreaterThanOrEqual(2);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(h.scans).toHaveLength(ticks);
  });
});

/**
 * A loop over the real engine and one in-memory credential: the scan sees the store's current metadata, as the
 * Vault source would; every outcome is recorded.
 */
function realLoop(
  engine: RotationEngine,
  world: { store: InMemoryCredentialStore; state: InMemoryStateStore; clock: FixedClock },
  path: string,
  ids: () => string,
) {
  const source: MetadataSource = {
    async *scan() {
      const cur = world.store.current(path);
      yield {
        kind: "entry",
        entry: kvEntry(path, cur.metadata, { currentVersion: cur.version, createdTime: WORLD_T0 }),
      };
    },
  };
  const tracker = new RotationTracker();
  const outcomes: RotationOutcome[] = [];
  const loop = new RotationLoop({
    engine,
    state: world.state,
    store: world.store,
    source,
    prefixes: ["api-credentials"],
    defaults: DEFAULT_CLASSIFY_DEFAULTS,
    clock: world.clock,
    concurrency: 2,
    intervalMs: 60 * MINUTE,
    budgetLevel: () => "normal",
    tracker,
    ids,
    onScan: () => {},
    onScanFailure: (err) => {
      throw err;
    },
    onOutcome: (outcome) => outcomes.push(outcome),
    onTaskError: (err) => {
      throw err;
    },
  });
  /** One tick, then until the path's work is done. */
  const tick = async () => {
    await loop.tickNow();
    for (let i = 0; i < 50 && loop.isBusy(path); i++) await flush();
  };
  return { loop, tracker, outcomes, tick };
}

describe("RotationLoop with the real engine", () => {
  it("rotates a flagged credential through its soak across ticks", async () => {
    const w = makeWorld();
    const { loop, tracker, outcomes, tick } = realLoop(makeEngine(w), w, WORLD_PATH, () => "rot-loop-1");
    await tick();
    expect(outcomes.map((o) => o.kind)).toEqual(["waiting"]);
    expect(tracker.get("rot-loop-1")).toMatchObject({
      status: "waiting",
      trigger: "flag",
      actor: "operator-flag",
    });

    // During the soak a tick neither resumes nor starts it again.
    await tick();
    expect(outcomes).toHaveLength(1);

    const first = outcomes[0];
    if (first?.kind !== "waiting") throw new Error("expected waiting");
    w.clock.advance(first.until.getTime() - w.clock.now().getTime());
    await tick();
    expect(outcomes.map((o) => o.kind)).toEqual(["waiting", "completed"]);
    expect(w.state.journal(WORLD_PATH)).toBeUndefined();
    expect(w.store.current(WORLD_PATH).metadata["rotate"]).toBeUndefined();
    expect(await loop.stop(1_000)).toBe(0);
  });
});

describe("RotationLoop with provider=sfmc", () => {
  it("starts a rotation when an operator pastes a staged secret into pending_api_key, without a flag", async () => {
    const w = makeSfmcWorld({ metadata: { rotate: undefined } });
    let serial = 0;
    const { loop, tracker, outcomes, tick } = realLoop(
      makeSfmcEngine(w),
      w,
      MPATH,
      () => `rot-paste-${++serial}`,
    );

    await tick();
    expect(outcomes.map((o) => o.kind)).toEqual(["waiting"]);
    expect(tracker.get("rot-paste-1")).toMatchObject({ trigger: "pending", actor: "operator-paste" });
    expect(w.store.current(MPATH).data["api_key"]).toBe(NEW);
    expect(w.store.current(MPATH).data["pending_api_key"]).toBe("");

    // Published and waiting for Setup: later ticks resume the journal, never start a second rotation.
    w.clock.advance(2 * 60 * MINUTE);
    await tick();
    expect(outcomes.map((o) => o.kind)).toEqual(["waiting", "waiting"]);
    expect(tracker.get("rot-paste-2")).toBeUndefined();
    expect(w.audit.events.filter((e) => e.type === "rotation.started")).toHaveLength(1);
    expect(await loop.stop(1_000)).toBe(0);
  });
});
