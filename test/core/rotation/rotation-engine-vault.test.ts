// The engine on the real Vault adapters (OpenBao dev server), holding a token with only policies/rotator.hcl:
// the journal, the lease, the KV versions and the metadata stamps are real KV v2 writes with cas. Salesforce is
// the in-memory fake (the simulator end-to-end runs through the CLI belong to the CLI's tests).
import { afterAll, describe, expect, it } from "vitest";
import { KvV2, VaultCredentialStore } from "../../../src/adapters/vault/kv-v2.ts";
import type { VaultClient } from "../../../src/adapters/vault/vault-client.ts";
import { VaultStateStore } from "../../../src/adapters/vault/vault-state-store.ts";
import { PROVIDERS } from "../../../src/core/providers/provider-registry.ts";
import { createRotationEngine, type RotationEngine } from "../../../src/core/rotation/rotation-engine.ts";
import { FixedClock } from "../../../src/core/time.ts";
import { rawEntry, seedVersion } from "../../adapters/vault/rotation-store-kit.ts";
import { connectWithToken } from "../../adapters/vault/vault-test-kit.ts";
import { InMemoryCredentialIssuer } from "../../fakes/in-memory-credential-issuer.ts";
import { ManualScheduler } from "../../fakes/manual-scheduler.ts";
import { RecordingAuditSink } from "../../fakes/recording-audit-sink.ts";
import { RecordingNotifier } from "../../fakes/recording-notifier.ts";
import { policyText } from "../../policies/policy-test-helpers.ts";
import { admin, uniqueName } from "../../support/vault-admin.ts";
import { FLAG_START, fingerprint, Interceptor, SETTINGS } from "./rotation-world.ts";

const MOUNT = "secret";
const STATE_PREFIX = "eca-rotator"; // the default, which rotator.hcl grants

const clients: VaultClient[] = [];
afterAll(async () => {
  for (const c of clients) await c.close();
});

async function rotatorStores(): Promise<{ store: VaultCredentialStore; state: VaultStateStore }> {
  const a = admin();
  const name = uniqueName("engine-rotator");
  await a.writePolicy(name, policyText("rotator.hcl"));
  const token = await a.createToken({ policies: [name], noDefaultPolicy: true });
  const client = await connectWithToken(token);
  clients.push(client);
  const kv = new KvV2(client, MOUNT, { statePrefix: STATE_PREFIX });
  return {
    store: new VaultCredentialStore(kv, { prefixes: ["api-credentials"] }),
    state: new VaultStateStore(kv),
  };
}

async function setup() {
  const clock = new FixedClock("2026-03-02T10:00:00Z");
  const issuer = new InMemoryCredentialIssuer(clock);
  const app = issuer.addConsumer("Crm_Integration");
  const path = `api-credentials/${uniqueName("engine")}/crm`;
  await seedVersion(
    admin(),
    MOUNT,
    path,
    { client_id: app.clientId, api_key: app.secret, endpoint: "https://crm.example.com" },
    {
      provider: "salesforce-eca",
      eca_app_id: app.appId,
      eca_consumer_id: app.consumerId,
      sf_connection: "prod",
      rotate: "now",
      team_owner: "team-a",
    },
  );
  const { store, state } = await rotatorStores();
  const audit = new RecordingAuditSink();
  const notifier = new RecordingNotifier();
  let ids = 0;
  const engine = (owner = "replica-a", interceptor?: Interceptor): RotationEngine => {
    const wrap = <T extends object>(name: string, port: T): T =>
      interceptor === undefined ? port : interceptor.wrap(name, port);
    return createRotationEngine({
      providers: PROVIDERS,
      issuer: wrap("issuer", issuer),
      store: wrap("store", store),
      state: wrap("state", state),
      audit: wrap("audit", audit),
      notifier: wrap("notifier", notifier),
      clock,
      scheduler: new ManualScheduler(clock),
      ids: () => `rot-vault-${++ids}`,
      owner,
      fingerprint,
      settings: SETTINGS,
    });
  };
  return { clock, issuer, path, app, engine, audit, notifier };
}

async function expectCleanInVault(
  path: string,
  issuer: InMemoryCredentialIssuer,
  target: { appId: string; consumerId: string },
) {
  const kv = await rawEntry(admin(), MOUNT, path);
  const main = issuer.mainPair(target);
  expect(kv?.data).toMatchObject({
    client_id: main.clientId,
    api_key: main.secret,
    previous_client_id: "",
    previous_key: "",
    endpoint: "https://crm.example.com",
  });
  expect(kv?.customMetadata).toMatchObject({ rotation_state: "idle", team_owner: "team-a" });
  expect(kv?.customMetadata["rotate"]).toBeUndefined();
  expect(issuer.promotions).toBe(1);
  expect(issuer.validPairs().map((p) => p.clientId)).toEqual([main.clientId]);
  expect(await rawEntry(admin(), MOUNT, `${STATE_PREFIX}/journal/${path}`)).toBeUndefined();
}

describe("rotation engine on real Vault with the rotator policy", () => {
  it("rotates through the soak, writing journal, lease, versions and stamps with cas", async () => {
    const s = await setup();
    const first = await s.engine().start(s.path, FLAG_START);
    expect(first).toMatchObject({ kind: "waiting", waiting: "soak" });
    // The new secret lives in Vault (the journal) from the staged step on, and KV offers both pairs.
    const journal = await rawEntry(admin(), MOUNT, `${STATE_PREFIX}/journal/${s.path}`);
    expect(journal?.data).toMatchObject({ step: "published", fence: "1", owner: "replica-a" });
    const staged = s.issuer.stagedRecord(s.app);
    expect(journal?.data["new_client_id"]).toBe(staged?.clientId);
    const soaking = await rawEntry(admin(), MOUNT, s.path);
    expect(soaking?.data["previous_client_id"]).toBe(s.app.clientId);
    expect(soaking?.customMetadata["rotation_state"]).toBe("awaiting_promotion");

    s.clock.advance(SETTINGS.soakMs);
    const done = await s.engine("replica-b").resume(s.path);
    expect(done).toMatchObject({ kind: "completed" });
    await expectCleanInVault(s.path, s.issuer, s.app);
    expect(await rawEntry(admin(), MOUNT, `${STATE_PREFIX}/leases/${s.path}`)).toBeUndefined();
    expect(s.notifier.sent).toHaveLength(1);
  });

  it("settles cleanly after the process dies at (every third) port call, answer lost", async () => {
    const probe = await setup();
    const counter = new Interceptor();
    await probe.engine("replica-a", counter).start(probe.path, { ...FLAG_START, mode: "emergency" });
    expect(counter.log.length).toBeGreaterThan(40);
    for (let k = 0; k < counter.log.length; k += 3) {
      const s = await setup();
      const dying = new Interceptor({ crashAfter: k, commit: true });
      await s.engine("replica-a", dying).start(s.path, { ...FLAG_START, mode: "emergency" });
      expect(dying.crashed).toBe(true);
      s.clock.advance(SETTINGS.leaseTtlMs); // the dead owner's lease runs out
      const hasJournal = (await rawEntry(admin(), MOUNT, `${STATE_PREFIX}/journal/${s.path}`)) !== undefined;
      const next = s.engine("replica-b");
      const out = hasJournal
        ? await next.resume(s.path)
        : await next.start(s.path, { ...FLAG_START, mode: "emergency" });
      const context = `crash after ${counter.log[k]} (#${k})`;
      expect(["completed", "skipped"], context).toContain(out.kind);
      await expectCleanInVault(s.path, s.issuer, s.app).catch((err: unknown) => {
        throw new Error(`${context}: ${String(err)}`);
      });
    }
  });
});
