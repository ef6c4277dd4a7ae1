// createDaemonView over the real Vault (credential reads, journals, the token check) and a real RotationLoop
// whose engine is scripted (calls stay open until the test answers them), with real audit sinks' health.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpAuditSink } from "../../src/adapters/audit/http-audit-sink.ts";
import { KvV2, VaultCredentialStore, VaultMetadataSource } from "../../src/adapters/vault/kv-v2.ts";
import type { VaultClient } from "../../src/adapters/vault/vault-client.ts";
import { VaultStateStore } from "../../src/adapters/vault/vault-state-store.ts";
import { AuditFanout } from "../../src/app/audit-fanout.ts";
import type { VaultStack } from "../../src/app/compose.ts";
import { RotatorError } from "../../src/core/errors.ts";
import { DEFAULT_CLASSIFY_DEFAULTS } from "../../src/core/inventory/classify.ts";
import type { StartOptions } from "../../src/core/rotation/engine-deps.ts";
import type { JournalRecord } from "../../src/core/rotation/journal-record.ts";
import type { RotationEngine } from "../../src/core/rotation/rotation-engine.ts";
import type { RotationOutcome } from "../../src/core/rotation/rotation-outcome.ts";
import type { AuditEvent } from "../../src/core/rotation/rotation-state.ts";
import { SecretValue } from "../../src/core/secret-value.ts";
import { FixedClock } from "../../src/core/time.ts";
import { createDaemonView } from "../../src/daemon/daemon-view-impl.ts";
import { createDaemonMetrics } from "../../src/daemon/metrics.ts";
import { RotationLoop } from "../../src/daemon/rotation-loop.ts";
import { RotationTracker } from "../../src/daemon/rotation-tracker.ts";
import type { RotationRequest } from "../../src/http/daemon-view.ts";
import { connectWithToken, rootClient } from "../adapters/vault/vault-test-kit.ts";
import { InMemoryReaders } from "../fakes/in-memory-readers.ts";
import { RecordingAuditSink } from "../fakes/recording-audit-sink.ts";
import { admin, uniqueName } from "../support/vault-admin.ts";
import { freePort } from "../support/vault-backend.ts";

const MOUNT = "secret";
const T0 = "2026-03-02T10:00:00.000Z";
const INTERVAL = 60_000;
const base = uniqueName("daemon-view");
const PREFIX = `${base}/creds`;
const REQUEST: RotationRequest = { mode: "now", reason: "ticket 42", actor: "http:ops" };

const managed = (extra: Record<string, string> = {}) => ({
  provider: "salesforce-eca",
  eca_app_id: "0xIWt0000000001AAA",
  sf_connection: "prod",
  rotation_period: "30d",
  ...extra,
});

const clients: VaultClient[] = [];
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  const a = admin();
  const data = { client_id: "id", api_key: "test-secret-canary-daemon-view" };
  await a.seedKv(MOUNT, `${PREFIX}/managed`, data, managed());
  await a.seedKv(MOUNT, `${PREFIX}/busy`, data, managed());
  await a.seedKv(MOUNT, `${PREFIX}/queued`, data, managed());
  await a.seedKv(MOUNT, `${PREFIX}/stopping`, data, managed());
  await a.seedKv(MOUNT, `${PREFIX}/journaled`, data, managed({ rotation_state: "in_progress" }));
  await a.seedKv(MOUNT, `${PREFIX}/unmanaged`, data, { team: "a" });
  await a.seedKv(MOUNT, `${PREFIX}/invalid`, data, { provider: "salesforce-eca", rotation_period: "30d" });
  await a.seedKv(MOUNT, `${PREFIX}/manual`, data, { provider: "manual", rotation_period: "30d" });
  await a.seedKv(MOUNT, `${base}/outside/managed`, data, managed());
});

afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  for (const c of clients) await c.close();
});

// ---- a scripted engine: every call stays open until answered ------------------------------------------------

class OpenEngine implements RotationEngine {
  readonly calls: { path: string; opts: StartOptions | undefined; answer: (o: RotationOutcome) => void }[] =
    [];
  start(path: string, opts: StartOptions): Promise<RotationOutcome> {
    return new Promise((resolve) => this.calls.push({ path, opts, answer: resolve }));
  }
  resume(path: string): Promise<RotationOutcome> {
    return new Promise((resolve) => this.calls.push({ path, opts: undefined, answer: resolve }));
  }
  rollback(): Promise<RotationOutcome> {
    throw new Error("not used");
  }
  plan(): never {
    throw new Error("not used");
  }
  adopt(): never {
    throw new Error("not used");
  }
}

function journalRecord(path: string, rotationId: string, extra: Partial<JournalRecord> = {}): JournalRecord {
  const at = new Date(T0);
  return {
    rotationId,
    path,
    provider: "salesforce-eca",
    mode: "standard",
    trigger: "flag",
    actor: "operator-flag",
    reason: undefined,
    step: "staged",
    fence: 1,
    owner: "replica-elsewhere",
    attempts: 0,
    startedAt: at,
    updatedAt: at,
    kvVersionRead: 1,
    kvVersionPublished: undefined,
    target: undefined,
    oldClientId: "id",
    stagedId: undefined,
    newClientId: undefined,
    newSecret: undefined,
    promoteAfter: undefined,
    promotedAt: undefined,
    lastError: undefined,
    ...extra,
  };
}

interface Setup {
  readonly view: ReturnType<typeof createDaemonView>;
  readonly loop: RotationLoop;
  readonly engine: OpenEngine;
  readonly tracker: RotationTracker;
  readonly state: VaultStateStore;
  readonly clock: FixedClock;
}

async function setup(
  opts: {
    client?: VaultClient;
    prefixes?: string[];
    audit?: AuditFanout;
    httpAudit?: HttpAuditSink;
    failScan?: boolean;
    readers?: InMemoryReaders;
  } = {},
): Promise<Setup> {
  const client = opts.client ?? (await rootClient());
  if (opts.client === undefined) clients.push(client);
  const kv = new KvV2(client, MOUNT);
  const source = new VaultMetadataSource(kv, { listing: "auto", concurrency: 4 });
  const vault: VaultStack = { client, kv, source, close: async () => {} };
  const state = new VaultStateStore(new KvV2(client, MOUNT, { statePrefix: `${base}/state` }));
  const clock = new FixedClock(T0);
  const tracker = new RotationTracker();
  const engine = new OpenEngine();
  const prefixes = opts.prefixes ?? [PREFIX];
  let serial = 0;
  const loop = new RotationLoop({
    engine,
    state,
    store: new VaultCredentialStore(kv, { prefixes }),
    source: opts.failScan
      ? {
          // biome-ignore lint/correctness/useYield: a scan that fails before its first item
          async *scan() {
            throw new RotatorError("VAULT_SEALED", "Vault is sealed");
          },
        }
      : source,
    prefixes,
    defaults: DEFAULT_CLASSIFY_DEFAULTS,
    clock,
    concurrency: 2,
    intervalMs: INTERVAL,
    budgetLevel: () => "normal",
    tracker,
    ids: () => `rot-loop-${++serial}`,
    onScan: () => {},
    onScanFailure: () => {},
    onOutcome: () => {},
    onTaskError: () => {},
  });
  closers.push(async () => {
    for (const c of engine.calls) c.answer(skippedOutcome(c.path));
    await loop.stop(1_000);
  });
  const view = createDaemonView({
    vault,
    prefixes,
    defaults: DEFAULT_CLASSIFY_DEFAULTS,
    state,
    loop,
    tracker,
    audit: opts.audit ?? new AuditFanout([], { retries: 0 }),
    httpAudit: opts.httpAudit,
    metrics: createDaemonMetrics({ version: "0.0.0-test", connections: [] }),
    clock,
    scanIntervalMs: INTERVAL,
    ids: () => `rot-http-${++serial}`,
    snapshot: () => undefined,
    readers: opts.readers,
    readersWindowMs: 24 * 3_600_000,
  });
  return { view, loop, engine, tracker, state, clock };
}

function skippedOutcome(path: string): RotationOutcome {
  return {
    kind: "skipped",
    path,
    rotationId: undefined,
    mode: undefined,
    sinkFailures: 0,
    reason: "test over",
    code: undefined,
  };
}

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

const EVENT: AuditEvent = {
  type: "rotation.started",
  time: T0,
  rotationId: "rot-audit",
  path: `${PREFIX}/managed`,
  provider: "salesforce-eca",
  mode: "standard",
  trigger: "flag",
  actor: "operator-flag",
  step: "claimed",
};

// ---- requestRotation ----------------------------------------------------------------------------------------

describe("DaemonView.requestRotation", () => {
  it("accepts a managed salesforce-eca credential and queues it with the request's mode, reason and actor", async () => {
    const s = await setup();
    const result = await s.view.requestRotation(`${PREFIX}/managed`, REQUEST);
    expect(result).toEqual({ status: "accepted", rotationId: expect.stringMatching(/^rot-http-\d+$/) });
    if (result.status !== "accepted") throw new Error("accepted");
    await flush();
    expect(s.engine.calls.map((c) => [c.path, c.opts])).toEqual([
      [
        `${PREFIX}/managed`,
        {
          mode: "standard",
          trigger: "http",
          actor: "http:ops",
          reason: "ticket 42",
          rotationId: result.rotationId,
        },
      ],
    ]);
    expect(await s.view.rotation(result.rotationId)).toMatchObject({ status: "running", trigger: "http" });
  });

  it("asks for an emergency rotation in emergency mode", async () => {
    const s = await setup();
    const result = await s.view.requestRotation(`${PREFIX}/managed`, { ...REQUEST, mode: "emergency" });
    expect(result.status).toBe("accepted");
    await flush();
    expect(s.engine.calls[0]?.opts?.mode).toBe("emergency");
  });

  it("answers not_found for a missing entry, a path outside the prefixes, and one that climbs out of them", async () => {
    const s = await setup();
    for (const path of [
      `${PREFIX}/nothing-here`,
      `${base}/outside/managed`,
      `${PREFIX}/../outside/managed`,
      `${PREFIX}/./managed`,
      PREFIX,
    ]) {
      expect(await s.view.requestRotation(path, REQUEST), path).toEqual({ status: "not_found" });
      expect(await s.view.credential(path), path).toBeUndefined();
    }
    expect(s.engine.calls).toEqual([]);
  });

  it("refuses unmanaged, invalid and other-provider credentials with the reason", async () => {
    const s = await setup();
    expect(await s.view.requestRotation(`${PREFIX}/unmanaged`, REQUEST)).toEqual({
      status: "not_rotatable",
      message: "unmanaged: no provider in custom_metadata",
    });
    const invalid = await s.view.requestRotation(`${PREFIX}/invalid`, REQUEST);
    expect(invalid).toMatchObject({ status: "not_rotatable" });
    expect(invalid.status === "not_rotatable" && invalid.message).toMatch(/^invalid metadata: .*eca_app_id/);
    expect(await s.view.requestRotation(`${PREFIX}/manual`, REQUEST)).toEqual({
      status: "not_rotatable",
      message:
        "provider manual has no rotation API: rotate it at the provider, then write the new value to KV; the rotator records it",
    });
    expect(s.engine.calls).toEqual([]);
  });

  it("answers conflict with the rotation id of an unfinished journal (another replica's rotation)", async () => {
    const s = await setup();
    const path = `${PREFIX}/journaled`;
    await s.state.writeJournal(path, journalRecord(path, "rot-elsewhere"), 0);
    expect(await s.view.requestRotation(path, REQUEST)).toEqual({
      status: "conflict",
      rotationId: "rot-elsewhere",
      message: "a rotation is already under way (step staged)",
    });
    expect(s.engine.calls).toEqual([]);
  });

  it("accepts a request during a soak that waits for readers (soak_until=readers): it promotes now", async () => {
    const s = await setup();
    const path = `${PREFIX}/journaled`;
    const soaking = { step: "published" as const, kvVersionPublished: 2, promoteAfter: new Date(T0) };
    const before = (await s.state.readJournal(path))?.version ?? 0;
    const v = await s.state.writeJournal(path, journalRecord(path, "rot-soak", soaking), before);
    // A time soak is the engine's own business: a request then conflicts.
    expect(await s.view.requestRotation(path, REQUEST)).toMatchObject({
      status: "conflict",
      rotationId: "rot-soak",
    });
    await s.state.writeJournal(
      path,
      journalRecord(path, "rot-soak", { ...soaking, promoteBy: new Date(Date.parse(T0) + 86_400_000) }),
      v,
    );
    expect(await s.view.requestRotation(path, REQUEST)).toEqual({
      status: "accepted",
      rotationId: "rot-soak",
    });
    await flush();
    expect(s.engine.calls.map((c) => c.opts?.trigger)).toEqual(["http"]);
  });

  it("answers conflict with the running rotation's id while one is queued or running here", async () => {
    const s = await setup();
    const path = `${PREFIX}/busy`;
    const first = await s.view.requestRotation(path, REQUEST);
    if (first.status !== "accepted") throw new Error(`accepted, got ${first.status}`);
    expect(await s.view.requestRotation(path, REQUEST)).toEqual({
      status: "conflict",
      rotationId: first.rotationId,
      message: "a rotation of this credential is already queued or running here",
    });
    // Two requests racing past the checks: the loop takes one; the other is told which one runs.
    const [a, b] = await Promise.all([
      s.view.requestRotation(`${PREFIX}/queued`, REQUEST),
      s.view.requestRotation(`${PREFIX}/queued`, REQUEST),
    ]);
    const statuses = [a.status, b.status].sort();
    expect(statuses).toEqual(["accepted", "conflict"]);
    const winner = [a, b].find((r) => r.status === "accepted");
    const loser = [a, b].find((r) => r.status === "conflict");
    expect(loser).toMatchObject({
      rotationId: winner?.status === "accepted" ? winner.rotationId : "?",
    });
  });

  it("answers unavailable once the loop is stopping", async () => {
    const s = await setup();
    await s.loop.stop(100);
    expect(await s.view.requestRotation(`${PREFIX}/stopping`, REQUEST)).toEqual({
      status: "unavailable",
      message: "the rotator is stopping",
    });
  });
});

// ---- credential and rotation lookups ------------------------------------------------------------------------

describe("DaemonView lookups", () => {
  it("reads and classifies one credential fresh from Vault, without its secret", async () => {
    const s = await setup();
    const item = await s.view.credential(`${PREFIX}/managed`);
    expect(item).toMatchObject({ path: `${PREFIX}/managed`, state: "ok", provider: "salesforce-eca" });
    expect(JSON.stringify(item)).not.toContain("test-secret-canary");
  });

  it("gives one credential its readers in the window from the reader evidence; unknown when it fails", async () => {
    const readers = new InMemoryReaders()
      .add(`${PREFIX}/managed`, {
        label: "approle (billing)",
        version: 1,
        at: new Date("2026-03-02T09:00:00Z"),
      })
      .add(`${PREFIX}/managed`, { label: "token-old", version: 1, at: new Date("2026-02-20T09:00:00Z") });
    const s = await setup({ readers });
    const item = await s.view.credential(`${PREFIX}/managed`);
    expect(item?.readers).toMatchObject({
      total: 1,
      onCurrent: 1,
      listed: [{ label: "approle (billing)", version: 1, current: true }],
    });
    readers.failWith = new RotatorError("VAULT_UNAVAILABLE", "down", { retryable: true });
    const unknown = await s.view.credential(`${PREFIX}/managed`);
    expect(unknown?.state).toBe("ok");
    expect(unknown?.readers).toBeUndefined();
  });

  it("finds another replica's rotation by id in the journals, and nothing for an unknown id", async () => {
    const s = await setup();
    const path = `${PREFIX}/soaking`; // the journal is all a lookup needs
    const soakEnds = new Date("2026-03-02T10:15:00.000Z");
    const record = journalRecord(path, "rot-soaking", { step: "published", promoteAfter: soakEnds });
    await s.state.writeJournal(path, record, 0);
    expect(await s.view.rotation("rot-soaking")).toEqual({
      rotationId: "rot-soaking",
      path,
      mode: "standard",
      status: "waiting",
      step: "published",
      trigger: "flag",
      actor: "operator-flag",
      requestedAt: new Date(T0),
      waitingUntil: soakEnds,
    });
    const failedPath = `${PREFIX}/failed-elsewhere`;
    await s.state.writeJournal(
      failedPath,
      journalRecord(failedPath, "rot-failed", { step: "failed", failedStep: "staged" }),
      0,
    );
    expect(await s.view.rotation("rot-failed")).toMatchObject({ status: "failed", step: "failed" });
    expect(await s.view.rotation("rot-unknown")).toBeUndefined();
  });

  it("lists this replica's recent rotations newest first", async () => {
    const s = await setup();
    const a = await s.view.requestRotation(`${PREFIX}/managed`, REQUEST);
    const b = await s.view.requestRotation(`${PREFIX}/busy`, REQUEST);
    const ids = [a, b].map((r) => (r.status === "accepted" ? r.rotationId : "?"));
    expect(s.view.recentRotations(10).map((r) => r.rotationId)).toEqual(ids.reverse());
  });
});

// ---- readiness ----------------------------------------------------------------------------------------------

describe("DaemonView.readiness", () => {
  it("says Vault is reachable with a valid token, and how long the token has left", async () => {
    const token = await admin().createToken({ policies: ["default"], ttl: "1h" });
    const client = await connectWithToken(token);
    clients.push(client);
    const s = await setup({ client });
    const vault = (await s.view.readiness()).find((c) => c.name === "vault");
    expect(vault).toMatchObject({ ok: true });
    expect(vault?.detail).toMatch(/^reachable, token valid, (59m\d*s?|1h) left$/);
  });

  it("fails the Vault check once the token is revoked, without showing the token", async () => {
    const token = await admin().createToken({ policies: ["default"], ttl: "1h" });
    const client = await connectWithToken(token);
    clients.push(client);
    const s = await setup({ client });
    await admin().must("POST", "auth/token/revoke", { token });
    const checks = await s.view.readiness();
    const vault = checks.find((c) => c.name === "vault");
    expect(vault).toEqual({
      name: "vault",
      ok: false,
      detail: expect.stringMatching(/^unreachable or token refused \(VAULT_/),
    });
    expect(JSON.stringify(checks)).not.toContain(token);
  });

  it("fails the scan check before the first scan, passes after one, and fails when it grows too old", async () => {
    const s = await setup();
    const scan = async () => (await s.view.readiness()).find((c) => c.name === "scan");
    expect(await scan()).toEqual({ name: "scan", ok: false, detail: "no scan has finished yet" });

    await s.loop.tickNow();
    expect(await scan()).toEqual({ name: "scan", ok: true, detail: "last scan 0s ago" });

    s.clock.advance(3 * INTERVAL + 30_000);
    expect(await scan()).toEqual({ name: "scan", ok: true, detail: "last scan 3m30s ago" });
    s.clock.advance(1_000);
    expect(await scan()).toEqual({ name: "scan", ok: false, detail: "last scan 3m31s ago (too old)" });
  });

  it("fails the scan check with the error code when no scan has succeeded", async () => {
    const s = await setup({ failScan: true });
    await s.loop.tickNow();
    const scan = (await s.view.readiness()).find((c) => c.name === "scan");
    expect(scan).toEqual({ name: "scan", ok: false, detail: "the scan failed (VAULT_SEALED)" });
  });

  it("shows each audit sink's health: a healthy one, a failing one, and the HTTP sink's own delivery state", async () => {
    const good = new RecordingAuditSink();
    const bad = new RecordingAuditSink();
    bad.failing = true;
    const port = await freePort(); // nothing listens there
    const http = new HttpAuditSink({
      url: SecretValue.of(`http://127.0.0.1:${port}/audit?token=test-secret-canary-http-audit`),
      batchSize: 1,
      maxRetries: 0,
      timeoutMs: 1_000,
    });
    closers.push(() => http.close());
    const audit = new AuditFanout(
      [
        { name: "file", sink: good },
        { name: "syslog", sink: bad },
        { name: "http", sink: http },
      ],
      { retries: 0 },
    );
    const s = await setup({ audit, httpAudit: http });
    const before = (await s.view.readiness()).filter((c) => c.name.startsWith("audit:"));
    expect(before.map((c) => [c.name, c.ok])).toEqual([
      ["audit:file", true],
      ["audit:syslog", true],
      ["audit:http", true],
    ]);

    // The syslog sink refuses the event; the HTTP sink takes it into its queue and then fails to deliver it.
    await audit.emit(EVENT);
    await http.flush();
    const checks = (await s.view.readiness()).filter((c) => c.name.startsWith("audit:"));
    expect(checks).toEqual([
      { name: "audit:file", ok: true, detail: "healthy (0 failures so far)" },
      { name: "audit:syslog", ok: false, detail: "failing: 1 failures, last AUDIT_FAILED" },
      { name: "audit:http", ok: false, detail: "failing: 1 failures, last ECONNREFUSED, 0 queued" },
    ]);
    expect(JSON.stringify(checks)).not.toContain("test-secret-canary");
    expect(JSON.stringify(checks)).not.toContain(String(port));
  });
});
