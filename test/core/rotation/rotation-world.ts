// A whole small world for engine tests: a fake clock and timers on it, a fake Salesforce with one ECA consumer, a KV entry that
// holds its pair, the rotator's state store, an audit sink and a notifier. Also a call interceptor that can
// make "the process" die after N port calls (optionally after the Nth call took effect), and the invariants a
// rotation must leave behind whatever happened on the way.
import { createHash } from "node:crypto";
import { expect } from "vitest";
import { PROVIDERS } from "../../../src/core/providers/provider-registry.ts";
import type {
  RotationEngineDeps,
  RotationEngineSettings,
  StartOptions,
} from "../../../src/core/rotation/engine-deps.ts";
import { createRotationEngine, type RotationEngine } from "../../../src/core/rotation/rotation-engine.ts";
import type { RotationOutcome } from "../../../src/core/rotation/rotation-outcome.ts";
import type {
  CredentialIssuer,
  CredentialStore,
  IssuerTarget,
  RotationStateStore,
} from "../../../src/core/rotation/rotation-ports.ts";
import type { RotationStep } from "../../../src/core/rotation/rotation-state.ts";
import { FixedClock } from "../../../src/core/time.ts";
import { InMemoryCredentialIssuer, type RotateSemantics } from "../../fakes/in-memory-credential-issuer.ts";
import { InMemoryCredentialStore } from "../../fakes/in-memory-credential-store.ts";
import { InMemoryStateStore } from "../../fakes/in-memory-state-store.ts";
import { ManualScheduler } from "../../fakes/manual-scheduler.ts";
import { RecordingAuditSink } from "../../fakes/recording-audit-sink.ts";
import { RecordingNotifier } from "../../fakes/recording-notifier.ts";

export const PATH = "api-credentials/team-a/crm";
export const T0 = "2026-03-02T10:00:00.000Z";
export const MINUTE = 60_000;

export const SETTINGS: RotationEngineSettings = {
  leaseTtlMs: 15 * MINUTE,
  soakMs: 15 * MINUTE,
  verifyTimeoutMs: 2 * MINUTE,
  maxAttempts: 3,
  destinations: {
    connections: [{ name: "prod", origin: "https://acme.my.salesforce.com", prefixes: undefined }],
    tenants: [{ name: "mc", origin: "https://mc-tenant.auth.marketingcloudapis.com", prefixes: undefined }],
  },
};

export interface World {
  readonly clock: FixedClock;
  /** The engine's timers (lease renewals): they run only when a test moves time with scheduler.advance(). */
  readonly scheduler: ManualScheduler;
  readonly issuer: InMemoryCredentialIssuer;
  readonly store: InMemoryCredentialStore;
  readonly state: InMemoryStateStore;
  readonly audit: RecordingAuditSink;
  readonly notifier: RecordingNotifier;
  readonly target: IssuerTarget;
  /** The pair in KV and at Salesforce before the rotation. */
  readonly original: { readonly clientId: string; readonly secret: string };
}

export interface WorldOptions {
  semantics?: RotateSemantics;
  metadata?: Record<string, string | undefined>;
  propagationDelayMs?: number;
  /** What Salesforce does with a POST while a staged set is active: refuse it (409), or replace the set. */
  stagedPostWhenActive?: "error" | "replace";
}

export function makeWorld(opts: WorldOptions = {}): World {
  const clock = new FixedClock(T0);
  const issuer = new InMemoryCredentialIssuer(clock, {
    semantics: opts.semantics ?? "overlap",
    propagationDelayMs: opts.propagationDelayMs ?? 0,
    stagedPostWhenActive: opts.stagedPostWhenActive ?? "error",
  });
  const app = issuer.addConsumer("Crm_Integration");
  const store = new InMemoryCredentialStore();
  const metadata: Record<string, string> = {};
  const wanted: Record<string, string | undefined> = {
    provider: "salesforce-eca",
    eca_app_id: app.appId,
    eca_consumer_id: app.consumerId,
    sf_connection: "prod",
    rotation_period: "30d",
    consumers: "crm-sync",
    team_owner: "team-a", // another team's key: must survive every patch
    rotate: "now",
    ...opts.metadata,
  };
  for (const [k, v] of Object.entries(wanted)) if (v !== undefined) metadata[k] = v;
  store.put(
    PATH,
    { client_id: app.clientId, api_key: app.secret, endpoint: "https://crm.example.com" },
    metadata,
  );
  const scheduler = new ManualScheduler(clock);
  // A verification that waits lets the engine's timers (lease renewals) run meanwhile.
  issuer.passTime = (ms) => scheduler.advance(ms);
  return {
    clock,
    scheduler,
    issuer,
    store,
    state: new InMemoryStateStore(),
    audit: new RecordingAuditSink(),
    notifier: new RecordingNotifier(),
    target: { connection: "prod", appId: app.appId, consumerId: app.consumerId },
    original: { clientId: app.clientId, secret: app.secret },
  };
}

export function fingerprint(clientId: string): string {
  return `fp:${createHash("sha256").update(`test-key:${clientId}`).digest("hex").slice(0, 12)}`;
}

let idSerial = 0;

export interface EngineOptions {
  owner?: string;
  settings?: Partial<RotationEngineSettings>;
  interceptor?: Interceptor;
  onSinkFailure?: (sink: "audit" | "notify", error: unknown) => void;
  shouldPause?: () => boolean;
  /** Ports to use instead of the world's (a test's own wrapper around them). */
  ports?: { issuer?: CredentialIssuer; store?: CredentialStore; state?: RotationStateStore };
}

export function makeEngine(w: World, opts: EngineOptions = {}): RotationEngine {
  return createRotationEngine(makeDeps(w, opts));
}

/** The engine's dependencies over the world's fakes (for what runs beside the engine, like resolve). */
export function makeDeps(w: World, opts: EngineOptions = {}): RotationEngineDeps {
  const i = opts.interceptor;
  const wrap = <T extends object>(name: string, port: T): T => (i === undefined ? port : i.wrap(name, port));
  return {
    providers: PROVIDERS,
    issuer: wrap("issuer", opts.ports?.issuer ?? w.issuer),
    store: wrap("store", opts.ports?.store ?? w.store),
    state: wrap("state", opts.ports?.state ?? w.state),
    audit: wrap("audit", w.audit),
    notifier: wrap("notifier", w.notifier),
    clock: w.clock,
    scheduler: w.scheduler,
    ids: () => `rot-${++idSerial}`,
    owner: opts.owner ?? "replica-a",
    fingerprint,
    settings: { ...SETTINGS, ...opts.settings },
    onSinkFailure: opts.onSinkFailure,
    shouldPause: opts.shouldPause,
  };
}

/**
 * The world's state store, with `act` run once when the journal is written at `step`, before or after the write
 * (a replica paused at that moment while another takes over).
 */
export function onJournalWrite(
  w: World,
  step: RotationStep,
  when: "before" | "after",
  act: () => void | Promise<void>,
): RotationStateStore {
  let done = false;
  return new Proxy(w.state, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      if (prop !== "writeJournal") return value.bind(target);
      return async (...args: Parameters<RotationStateStore["writeJournal"]>) => {
        const hit = !done && args[1].step === step;
        if (hit) done = true;
        if (hit && when === "before") await act();
        const version = await value.apply(target, args);
        if (hit && when === "after") await act();
        return version;
      };
    },
  });
}

export const FLAG_START: StartOptions = { mode: "standard", trigger: "flag", actor: "operator-flag" };

/** The process died: every port call from now on fails, and nothing it would do happens. */
export class Crash extends Error {
  override readonly name = "Crash";
}

/**
 * Wraps ports so every call passes through one counter. `crashAfter` calls go through normally; the next one
 * crashes the process: without commit it never happens, with commit it takes effect and its answer is lost.
 * `before` sees every call first (name like "issuer.promote") and may change the world (another replica).
 */
export class Interceptor {
  readonly log: string[] = [];
  crashAfter: number | undefined;
  commit: boolean;
  crashed = false;
  before: ((name: string, index: number) => void) | undefined;

  constructor(
    opts: { crashAfter?: number; commit?: boolean; before?: (name: string, index: number) => void } = {},
  ) {
    this.crashAfter = opts.crashAfter;
    this.commit = opts.commit ?? false;
    this.before = opts.before;
  }

  wrap<T extends object>(portName: string, port: T): T {
    return new Proxy(port, {
      get: (target, prop, receiver) => {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (typeof value !== "function" || typeof prop !== "string") return value;
        return (...args: unknown[]) => this.#call(`${portName}.${prop}`, () => value.apply(target, args));
      },
    });
  }

  #call(name: string, run: () => unknown): unknown {
    if (this.crashed) return Promise.reject(new Crash(`dead before ${name}`));
    const index = this.log.length;
    this.log.push(name);
    this.before?.(name, index);
    if (this.crashAfter !== undefined && index === this.crashAfter) {
      this.crashed = true;
      if (!this.commit) return Promise.reject(new Crash(`died before ${name}`));
      return Promise.resolve()
        .then(run)
        .then(
          () => Promise.reject(new Crash(`died after ${name}`)),
          () => Promise.reject(new Crash(`died after ${name}`)),
        );
    }
    return run();
  }
}

/**
 * What the daemon does after a restart: resume the journal if there is one, else act on the flag if it is
 * still set, moving the clock over soaks and expired leases, until the rotation settles.
 */
export async function settle(
  w: World,
  engine: () => RotationEngine,
  start: StartOptions = FLAG_START,
): Promise<RotationOutcome[]> {
  const outcomes: RotationOutcome[] = [];
  for (let i = 0; i < 40; i++) {
    const hasJournal = w.state.journal(PATH) !== undefined;
    const out = hasJournal ? await engine().resume(PATH) : await engine().start(PATH, start);
    outcomes.push(out);
    if (out.kind === "completed" || out.kind === "rolled_back") return outcomes;
    if (out.kind === "failed" && !out.willRetry) return outcomes;
    if (out.kind === "waiting") w.clock.advance(out.until.getTime() - w.clock.now().getTime());
    else if (out.kind === "skipped" && out.code === "ROTATION_LEASE_HELD")
      w.clock.advance(SETTINGS.leaseTtlMs);
    else if (out.kind === "skipped" && !hasJournal) return outcomes; // the flag was handled already
  }
  throw new Error(`did not settle: ${JSON.stringify(outcomes.slice(-3))}`);
}

/**
 * Moves the clock to the end of the backoff the journal records after a failed attempt (if there is one), so
 * the next resume runs the attempt instead of reporting the wait.
 */
export function passBackoff(w: World, path: string = PATH): void {
  const until = w.state.journal(path)?.retryAfter;
  const now = w.clock.now().getTime();
  if (until !== undefined && until.getTime() > now) w.clock.advance(until.getTime() - now);
}

/** What must hold after a rotation settled successfully, however it got there. */
export function expectRotatedCleanly(
  w: World,
  opts: { leaseOwnerMayLinger?: string | undefined } = {},
): void {
  const kv = w.store.current(PATH);
  const main = w.issuer.mainPair(w.target);
  // Salesforce's main pair is exactly KV's current pair, and it is a new one.
  expect(main).toEqual({ clientId: kv.data["client_id"], secret: kv.data["api_key"] });
  expect(main.clientId).not.toBe(w.original.clientId);
  // Every pair that can log in is the one in KV: nothing orphaned, the old pair dead.
  for (const p of w.issuer.validPairs()) expect(p.clientId).toBe(main.clientId);
  expect(w.issuer.stagedRecord(w.target)?.state).not.toBe("active");
  expect(w.issuer.promotions).toBe(1);
  expect(kv.data["previous_client_id"]).toBe("");
  expect(kv.data["previous_key"]).toBe("");
  expect(kv.data["endpoint"]).toBe("https://crm.example.com");
  expect(kv.metadata["rotation_state"]).toBe("idle");
  expect(kv.metadata["rotate"]).toBeUndefined();
  expect(kv.metadata["team_owner"]).toBe("team-a");
  expect(kv.metadata["rotation_verified_at"]).toBeDefined();
  expect(w.state.journal(PATH)).toBeUndefined();
  const lease = w.state.lease(PATH);
  if (lease !== undefined) expect(lease.owner).toBe(opts.leaseOwnerMayLinger);
}

/** Every string the engine handed out or wrote outside Salesforce and KV data, for leak checks. */
export function everythingVisible(w: World, outcomes: readonly unknown[]): string {
  return JSON.stringify({ audit: w.audit.events, notes: w.notifier.sent, outcomes });
}
