// An in-memory world for provider=generated: a fake clock, a KV entry holding a webhook signing secret, the
// rotator's state store, audit and chat recorders, and a counting random source whose every draw is a new,
// recognisable secret. Reuses the ECA world's interceptor, fingerprint and settings.

import { expect } from "vitest";
import { PROVIDERS } from "../../../../src/core/providers/provider-registry.ts";
import type { ReaderEvidence } from "../../../../src/core/readers/readers.ts";
import type { RotationEngineSettings, StartOptions } from "../../../../src/core/rotation/engine-deps.ts";
import { createRotationEngine, type RotationEngine } from "../../../../src/core/rotation/rotation-engine.ts";
import type { RotationOutcome } from "../../../../src/core/rotation/rotation-outcome.ts";
import { FixedClock } from "../../../../src/core/time.ts";
import { InMemoryCredentialIssuer } from "../../../fakes/in-memory-credential-issuer.ts";
import { InMemoryCredentialStore } from "../../../fakes/in-memory-credential-store.ts";
import { InMemoryStateStore } from "../../../fakes/in-memory-state-store.ts";
import { ManualScheduler } from "../../../fakes/manual-scheduler.ts";
import { RecordingAuditSink } from "../../../fakes/recording-audit-sink.ts";
import { RecordingNotifier } from "../../../fakes/recording-notifier.ts";
import { fingerprint, type Interceptor, SETTINGS, T0 } from "../../rotation/rotation-world.ts";

export const GPATH = "api-credentials/webhooks/provider-events";
export const OLD_SECRET = "test-secret-canary-old-webhook-secret";

export interface GeneratedWorld {
  readonly clock: FixedClock;
  readonly store: InMemoryCredentialStore;
  readonly state: InMemoryStateStore;
  readonly audit: RecordingAuditSink;
  readonly notifier: RecordingNotifier;
  /** Every secret the random source handed out, in order (hex). */
  readonly drawn: string[];
  readonly randomBytes: (size: number) => Uint8Array;
  /** The issuer port is unused by this provider; any call to it is a bug the tests catch. */
  readonly issuer: InMemoryCredentialIssuer;
}

export function makeGeneratedWorld(
  opts: { metadata?: Record<string, string | undefined>; data?: Record<string, string> } = {},
): GeneratedWorld {
  const clock = new FixedClock(T0);
  const store = new InMemoryCredentialStore();
  const metadata: Record<string, string> = {};
  const wanted: Record<string, string | undefined> = {
    provider: "generated",
    credential_type: "webhook_secret",
    consumers: "webhook-receiver",
    team_owner: "team-w",
    rotate: "now",
    ...opts.metadata,
  };
  for (const [k, v] of Object.entries(wanted)) if (v !== undefined) metadata[k] = v;
  store.put(
    GPATH,
    opts.data ?? { current_secret: OLD_SECRET, endpoint: "https://hooks.example.com" },
    metadata,
  );
  const drawn: string[] = [];
  const randomBytes = (size: number): Uint8Array => {
    // Recognisable and distinct per draw: the canary prefix, then the draw number.
    const bytes = new Uint8Array(size);
    const tag = Buffer.from(`test-secret-canary-${drawn.length + 1}`);
    bytes.set(tag.subarray(0, size));
    drawn.push(Buffer.from(bytes).toString("hex"));
    return bytes;
  };
  return {
    clock,
    store,
    state: new InMemoryStateStore(),
    audit: new RecordingAuditSink(),
    notifier: new RecordingNotifier(),
    drawn,
    randomBytes,
    issuer: new InMemoryCredentialIssuer(clock),
  };
}

let serial = 0;

export function makeGeneratedEngine(
  w: GeneratedWorld,
  opts: {
    owner?: string;
    settings?: Partial<RotationEngineSettings>;
    interceptor?: Interceptor;
    noRandom?: boolean;
    /** The reader feed, for soak_until=readers. */
    readers?: ReaderEvidence;
  } = {},
): RotationEngine {
  const i = opts.interceptor;
  const wrap = <T extends object>(name: string, port: T): T => (i === undefined ? port : i.wrap(name, port));
  return createRotationEngine({
    providers: PROVIDERS,
    issuer: wrap("issuer", w.issuer),
    store: wrap("store", w.store),
    state: wrap("state", w.state),
    audit: wrap("audit", w.audit),
    notifier: wrap("notifier", w.notifier),
    clock: w.clock,
    // Renewals run only when a test moves time with a scheduler; none of these tests needs them.
    scheduler: new ManualScheduler(w.clock),
    ids: () => `gen-${++serial}`,
    owner: opts.owner ?? "replica-a",
    fingerprint,
    settings: { ...SETTINGS, ...opts.settings },
    randomBytes: opts.noRandom === true ? undefined : w.randomBytes,
    readers: opts.readers,
  });
}

export const FLAG: StartOptions = { mode: "standard", trigger: "flag", actor: "operator-flag" };

/** Like the daemon after a restart: resume the journal, else act on the flag, moving time over waits. */
export async function settleGenerated(
  w: GeneratedWorld,
  engine: () => RotationEngine,
  start: StartOptions = FLAG,
): Promise<RotationOutcome[]> {
  const outcomes: RotationOutcome[] = [];
  for (let i = 0; i < 40; i++) {
    const hasJournal = w.state.journal(GPATH) !== undefined;
    const out = hasJournal ? await engine().resume(GPATH) : await engine().start(GPATH, start);
    outcomes.push(out);
    if (out.kind === "completed" || out.kind === "rolled_back") return outcomes;
    if (out.kind === "failed" && !out.willRetry) return outcomes;
    if (out.kind === "waiting") w.clock.advance(Math.max(1, out.until.getTime() - w.clock.now().getTime()));
    else if (out.kind === "skipped" && out.code === "ROTATION_LEASE_HELD")
      w.clock.advance(SETTINGS.leaseTtlMs);
    else if (out.kind === "skipped" && !hasJournal) return outcomes;
  }
  throw new Error(`did not settle: ${JSON.stringify(outcomes.slice(-3))}`);
}

/** What a finished standard rotation leaves: one new secret, published once, the overlap over. */
export function expectGeneratedCleanly(w: GeneratedWorld): string {
  const kv = w.store.current(GPATH);
  const secret = kv.data["current_secret"] ?? "";
  expect(secret).toMatch(/^[0-9a-f]{64}$/);
  expect(w.drawn).toContain(secret);
  expect(kv.data["previous_secret"]).toBe("");
  expect(kv.data["rotation_phase"]).toBe("complete");
  expect(kv.data["endpoint"]).toBe("https://hooks.example.com");
  // Published once: the history goes old → (new, old) → (new, "") and never names a second new secret.
  const currents = new Set(w.store.history(GPATH).map((v) => v["current_secret"]));
  expect(currents).toEqual(new Set([OLD_SECRET, secret]));
  expect(kv.metadata["rotation_state"]).toBe("idle");
  expect(kv.metadata["rotate"]).toBeUndefined();
  expect(kv.metadata["team_owner"]).toBe("team-w");
  expect(kv.metadata["rotation_verified_at"]).toBeDefined();
  expect(kv.metadata["last_rotated"]).toBeDefined();
  expect(w.state.journal(GPATH)).toBeUndefined();
  expect(w.issuer.promotions).toBe(0);
  return secret;
}

/** Everything the engine handed out besides KV data and the journal, for leak checks. */
export function visibleOutput(w: GeneratedWorld, outcomes: readonly unknown[]): string {
  return JSON.stringify({ audit: w.audit.events, notes: w.notifier.sent, outcomes });
}
