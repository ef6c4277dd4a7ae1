// An in-memory world for provider=sfmc: a fake clock, a KV entry holding an installed package's client id and
// secret, a fake Marketing Cloud tenant (which secrets get a token), the rotator's state store, audit and chat.
import { expect } from "vitest";
import { PROVIDERS } from "../../../../src/core/providers/provider-registry.ts";
import type {
  RotationEngineSettings,
  SfmcTokenAnswer,
  StartOptions,
} from "../../../../src/core/rotation/engine-deps.ts";
import { createRotationEngine, type RotationEngine } from "../../../../src/core/rotation/rotation-engine.ts";
import type { RotationOutcome } from "../../../../src/core/rotation/rotation-outcome.ts";
import type { SecretValue } from "../../../../src/core/secret-value.ts";
import { FixedClock } from "../../../../src/core/time.ts";
import { InMemoryCredentialIssuer } from "../../../fakes/in-memory-credential-issuer.ts";
import { InMemoryCredentialStore } from "../../../fakes/in-memory-credential-store.ts";
import { InMemoryStateStore } from "../../../fakes/in-memory-state-store.ts";
import { ManualScheduler } from "../../../fakes/manual-scheduler.ts";
import { RecordingAuditSink } from "../../../fakes/recording-audit-sink.ts";
import { RecordingNotifier } from "../../../fakes/recording-notifier.ts";
import { fingerprint, type Interceptor, SETTINGS, T0 } from "../../rotation/rotation-world.ts";

export const MPATH = "api-credentials/marketing/crm-sync";
export const OLD = "test-secret-canary-sfmc-old";
export const NEW = "test-secret-canary-sfmc-staged";
export const AUTH_URL = "https://mc-tenant.auth.marketingcloudapis.com";

/** Which secrets the tenant gives a token for; `activate` is the operator's click in Setup. */
class FakeTenant {
  readonly valid = new Set<string>([OLD]);
  readonly asked: string[] = [];
  async check(url: string, clientId: string, secret: SecretValue): Promise<SfmcTokenAnswer> {
    this.asked.push(`${url} ${clientId}`);
    return this.valid.has(secret.reveal()) ? { ok: true } : { ok: false, refusal: "invalid_client" };
  }
  stage(secret: string): void {
    this.valid.add(secret);
  }
  activate(secret: string): void {
    this.valid.clear();
    this.valid.add(secret);
  }
}

export interface SfmcWorld {
  readonly clock: FixedClock;
  readonly store: InMemoryCredentialStore;
  readonly state: InMemoryStateStore;
  readonly audit: RecordingAuditSink;
  readonly notifier: RecordingNotifier;
  readonly tenant: FakeTenant;
  readonly issuer: InMemoryCredentialIssuer;
}

export function makeSfmcWorld(
  opts: { metadata?: Record<string, string | undefined>; pending?: string | undefined } = {},
): SfmcWorld {
  const clock = new FixedClock(T0);
  const store = new InMemoryCredentialStore();
  const metadata: Record<string, string> = {};
  const wanted: Record<string, string | undefined> = {
    provider: "sfmc",
    credential_type: "oauth_client_secret",
    sfmc_tenant: "mc",
    consumers: "crm-sync",
    team_owner: "team-m",
    rotate: "now",
    ...opts.metadata,
  };
  for (const [k, v] of Object.entries(wanted)) if (v !== undefined) metadata[k] = v;
  const data: Record<string, string> = { client_id: "mc-client-1", api_key: OLD };
  const pending = "pending" in opts ? opts.pending : NEW;
  if (pending !== undefined) data["pending_api_key"] = pending;
  store.put(MPATH, data, metadata);
  const tenant = new FakeTenant();
  tenant.stage(NEW);
  return {
    clock,
    store,
    state: new InMemoryStateStore(),
    audit: new RecordingAuditSink(),
    notifier: new RecordingNotifier(),
    tenant,
    issuer: new InMemoryCredentialIssuer(clock),
  };
}

let serial = 0;

export function makeSfmcEngine(
  w: SfmcWorld,
  opts: { owner?: string; interceptor?: Interceptor; settings?: RotationEngineSettings } = {},
): RotationEngine {
  const i = opts.interceptor;
  const wrap = <T extends object>(name: string, port: T): T => (i === undefined ? port : i.wrap(name, port));
  const tenant = wrap("sfmc", w.tenant);
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
    ids: () => `sfmc-${++serial}`,
    owner: opts.owner ?? "replica-a",
    fingerprint,
    settings: opts.settings ?? SETTINGS,
    sfmcTokenCheck: (url, id, secret) => tenant.check(url, id, secret),
  });
}

export const FLAG: StartOptions = { mode: "standard", trigger: "flag", actor: "operator-flag" };

/**
 * Like the daemon plus an operator: resume the journal, else act on the flag, moving time over waits; when the
 * rotation waits for Setup, the operator activates the new secret and sets rotate=now.
 */
export async function settleSfmc(w: SfmcWorld, engine: () => RotationEngine): Promise<RotationOutcome[]> {
  const outcomes: RotationOutcome[] = [];
  for (let i = 0; i < 40; i++) {
    const hasJournal = w.state.journal(MPATH) !== undefined;
    const out = hasJournal ? await engine().resume(MPATH) : await engine().start(MPATH, FLAG);
    outcomes.push(out);
    if (out.kind === "completed") return outcomes;
    if (out.kind === "failed" && !out.willRetry) return outcomes;
    if (out.kind === "waiting" && out.waiting === "confirm") {
      w.tenant.activate(NEW);
      await engine().start(MPATH, FLAG);
    } else if (out.kind === "waiting") {
      w.clock.advance(Math.max(1, out.until.getTime() - w.clock.now().getTime()));
    } else if (out.kind === "skipped" && out.code === "ROTATION_LEASE_HELD") {
      w.clock.advance(SETTINGS.leaseTtlMs);
    } else if (out.kind === "skipped" && !hasJournal) return outcomes;
  }
  throw new Error(`did not settle: ${JSON.stringify(outcomes.slice(-3))}`);
}

/** What a finished rotation leaves: the staged secret current, published once, the old one dropped. */
export function expectSfmcCleanly(w: SfmcWorld): void {
  const kv = w.store.current(MPATH);
  expect(kv.data["api_key"]).toBe(NEW);
  expect(kv.data["previous_key"]).toBe("");
  expect(kv.data["pending_api_key"]).toBe("");
  expect(kv.data["client_id"]).toBe("mc-client-1");
  const published = w.store.history(MPATH).filter((v) => v["previous_key"] === OLD);
  expect(published.length).toBe(1);
  expect(kv.metadata["rotation_state"]).toBe("idle");
  expect(kv.metadata["rotate"]).toBeUndefined();
  expect(kv.metadata["rotation_verified_at"]).toBeDefined();
  expect(kv.metadata["expires_at"]).toBeDefined();
  expect(w.state.journal(MPATH)).toBeUndefined();
  expect(w.issuer.promotions).toBe(0);
}

export function visibleOutput(w: SfmcWorld, outcomes: readonly unknown[]): string {
  return JSON.stringify({ audit: w.audit.events, notes: w.notifier.sent, outcomes });
}
