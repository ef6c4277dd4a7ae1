// Vault itself goes away mid-rotation: a non-dev raft server (test/support/standalone-server.ts) is THIS test's
// Vault. The rotator dies right after Salesforce created the staged set, the server is killed and started again on
// the same data folder and port, the test unseals it, and `run --once` settles the rotation from the journal.
// A second case stops the server under a live `run --once` (the process must fail, not hang or double-stage).
// Then the daemon: `serve` rides out a Vault that is gone for 30 s (and sealed for a few more) in a soak, in the
// middle of verifying the staged pair, right after promotion, and in an emergency's revoke-first window. While
// Vault is away the test polls the daemon, /readyz and the simulator; afterwards the daemon must finish alone.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import {
  type FaultSpec,
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import type { RotateSemantics } from "../../src/simulator/salesforce/sim-settings.ts";
import { tokenRequest } from "../simulator/sim-client.ts";
import { type LogRecord, ServeProcess } from "../support/serve-process.ts";
import { type StandaloneServer, startStandaloneServer } from "../support/standalone-server.ts";
import { useVault, VaultAdmin } from "../support/vault-admin.ts";
import type { VaultTarget } from "../support/vault-backend.ts";
import { freePort, waitForHealthy } from "../support/vault-backend.ts";
import { expectSettledClean, LEASE_TTL_MS, settle } from "./crash-matrix-kit.ts";
import { type Credential, E2eWorld, type KvEntry, MOUNT } from "./e2e-kit.ts";

/** A fresh raft server (the caller stops it), initialised, unsealed, KV v2 at secret/; its unseal key for restarts. */
async function ownVault(): Promise<{ server: StandaloneServer; vault: VaultTarget; unsealKey: string }> {
  const binary = useVault().binary;
  if (binary === undefined) throw new Error("this test needs the bao/vault binary (the default bao backend)");
  const server = await startStandaloneServer(binary);
  const { rootToken, unsealKey } = await server.initialise();
  await server.unseal(unsealKey);
  await waitForHealthy(server.addr, 30_000);
  const vault: VaultTarget = { addr: server.addr, token: rootToken, backend: "bao", binary };
  await new VaultAdmin(vault).mountKv(MOUNT, 2);
  return { server, vault, unsealKey };
}

async function restartAndUnseal(server: StandaloneServer, unsealKey: string, hard: boolean): Promise<void> {
  await server.restart({ hard });
  await server.unseal(unsealKey);
  await waitForHealthy(server.addr, 30_000);
}

describe("Vault stopped and restarted mid-rotation", () => {
  for (const semantics of ["overlap", "immediate"] as const) {
    it.concurrent(`${semantics}: rotator killed after POST staged, Vault killed and restarted, run --once settles cleanly`, async () => {
      const { server, vault, unsealKey } = await ownVault();
      const sim = await startSalesforceSimulator({ rotateSemantics: semantics });
      try {
        const w = await E2eWorld.create(sim, {
          verifyTimeout: "2s",
          leaseTtl: `${LEASE_TTL_MS / 1000}s`,
          vault,
        });
        const cred = await w.credential("vault-restart", { rotate: "now" });
        const cw = { sim, w, cred, promotionsBefore: sim.counters().promotions };
        const stagedBefore = sim.counters().stagedPosts;

        const dead = await w.cli(["run", "--once"], {
          ECA_ROTATOR_TEST_CRASH_AT: "after:createStaged",
        });
        const diedAt = Date.now();
        expect(dead.signal).toBe("SIGKILL");
        await restartAndUnseal(server, unsealKey, true);
        expect((await w.journal(cred.path))?.data["step"]).toBe("staging"); // the journal survived the restart

        const runs = await settle(w, cred.path, diedAt);
        expect(runs.at(-1)?.code).toBe(0);
        await expectSettledClean(cw);
        expect(sim.counters().stagedPosts - stagedBefore).toBe(1);
      } finally {
        await sim.close();
        await server.stop();
      }
    }, 120_000);
  }

  it.concurrent("a run --once whose Vault is killed under it fails; after restart and unseal run --once settles cleanly", async () => {
    const { server, vault, unsealKey } = await ownVault();
    const sim = await startSalesforceSimulator({ rotateSemantics: "overlap" });
    try {
      const w = await E2eWorld.create(sim, {
        verifyTimeout: "2s",
        leaseTtl: `${LEASE_TTL_MS / 1000}s`,
        vault,
      });
      const cred = await w.credential("vault-down", { rotate: "now" });
      const cw = { sim, w, cred, promotionsBefore: sim.counters().promotions };
      sim.addFault({ latencyMs: 250 }); // slow Salesforce: the rotation is surely in flight when Vault dies

      const live = w.cli(["run", "--once"]);
      const deadline = Date.now() + 30_000;
      while ((await w.journal(cred.path))?.data["step"] === undefined && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      await server.restart({ hard: true }); // comes back sealed: the live process sees Vault gone, then sealed
      const failed = await live;
      const diedAt = Date.now();
      expect(failed.signal, failed.stdout + failed.stderr).toBeNull();
      expect(failed.code, failed.stdout + failed.stderr).not.toBe(0);
      sim.clearFaults();

      await server.unseal(unsealKey);
      await waitForHealthy(server.addr, 30_000);
      const runs = await settle(w, cred.path, diedAt);
      expect(runs.at(-1)?.code).toBe(0);
      await expectSettledClean(cw);
    } finally {
      await sim.close();
      await server.stop();
    }
  }, 120_000);
});

/** How long Vault is gone (connections refused), then how long it answers sealed before the test unseals it. */
const OUTAGE_MS = 30_000;
const SEALED_MS = 3_000;
const POLL_MS = 500;
/** After the unseal the daemon finishes within this many one-second scan intervals (a few suffice when idle). */
const RECOVERY_SCANS = 20;
/** An emergency's KV names the promoted pair this soon after the unseal (the revoke-first window closes). */
const PUBLISH_AFTER_UNSEAL_MS = 10_000;
const API_TOKEN = "test-secret-canary-outage-api-token-3e8a";

type SimEvent = { method: string; path: string; status: number };

interface OutageCase {
  readonly name: string;
  readonly mode: "standard" | "emergency";
  readonly semantics: RotateSemantics;
  /** The credential's metadata from the start (a per-credential soak), and the flag an operator sets later. */
  readonly metadata: Record<string, string>;
  readonly flag: Record<string, string>;
  /** Salesforce faults set before the flag: a slow PATCH keeps KV still for several polls before the outage. */
  readonly faults?: readonly FaultSpec[];
  /** New pairs log in only this long after they were made (Salesforce's propagation delay). */
  readonly activationDelayMs?: number;
  /** Vault goes down when a poll reads this from KV… */
  readonly downWhenKv?: (kv: KvEntry, cred: Credential) => boolean;
  /** …or the moment the simulator has acted on this call, before the answer leaves for the daemon. */
  readonly downOnAnswer?: (e: SimEvent) => boolean;
  /** The first audit event of this type comes after the unseal: the outage hit the step it was meant for. */
  readonly recordedAfterUnseal: string;
}

const OUTAGE_CASES: readonly OutageCase[] = [
  {
    name: "in the soak (the soak ends while Vault is away)",
    mode: "standard",
    semantics: "immediate",
    metadata: { soak: "8s" },
    flag: { rotate: "now", rotate_reason: "CHG-vault-soak" },
    downWhenKv: (kv, cred) =>
      kv.meta["rotation_state"] === "awaiting_promotion" && kv.data["client_id"] !== cred.oldPair.key,
    recordedAfterUnseal: "rotation.promoted",
  },
  {
    name: "while it verifies the staged pair (new pairs take 6 s to log in)",
    mode: "standard",
    semantics: "immediate",
    metadata: { soak: "0s" },
    flag: { rotate: "now", rotate_reason: "CHG-vault-verify" },
    activationDelayMs: 6_000,
    // The first refusal of a login is the staged pair's: KV's pair and the rotator's own pair log in.
    downOnAnswer: (e) => e.method === "POST" && e.path === "/services/oauth2/token" && e.status === 400,
    recordedAfterUnseal: "rotation.verified",
  },
  {
    name: "right after Salesforce promoted the published pair",
    mode: "standard",
    // The old pair lives on in the `rotated` record until retire, which needs Vault: a poll that last read KV
    // just before the publish (a stalled test process) still checks a pair that must log in.
    semantics: "overlap",
    metadata: { soak: "0s" },
    flag: { rotate: "now", rotate_reason: "CHG-vault-promote" },
    faults: [{ method: "PATCH", latencyMs: 2_000 }],
    downOnAnswer: (e) => e.method === "PATCH" && e.status === 200,
    recordedAfterUnseal: "rotation.promoted",
  },
  {
    name: "in an emergency, between promotion and publishing (the revoke-first window)",
    mode: "emergency",
    semantics: "immediate",
    metadata: {},
    flag: { rotate: "emergency", rotate_reason: "INC-vault-emergency" },
    faults: [{ method: "PATCH", latencyMs: 2_000 }],
    downOnAnswer: (e) => e.method === "PATCH" && e.status === 200,
    recordedAfterUnseal: "rotation.promoted",
  },
];

/** A consumer's client_credentials login with the pair. */
async function logsIn(sim: SalesforceSimulator, pair: { key: string; secret: string }): Promise<boolean> {
  return (await tokenRequest(sim, pair.key, pair.secret)).status === 200;
}

function pairOf(kv: KvEntry | undefined): { key: string; secret: string } {
  return { key: String(kv?.data["client_id"]), secret: String(kv?.data["api_key"]) };
}

function alive(daemon: ServeProcess): boolean {
  return daemon.child.exitCode === null && daemon.child.signalCode === null;
}

async function rideOutOutage(c: OutageCase): Promise<void> {
  const { server, vault, unsealKey } = await ownVault();
  const events: SimEvent[] = [];
  let armed = false;
  let downAt: number | undefined;
  let halted: Promise<void> | undefined;
  const goDown = () => {
    if (downAt !== undefined) return;
    downAt = Date.now();
    halted = server.halt({ hard: true }); // SIGKILL is sent before this returns
  };
  const sim = await startSalesforceSimulator({
    rotateSemantics: c.semantics,
    onRequest: (e) => {
      events.push(e);
      if (armed && c.downOnAnswer?.(e) === true) goDown();
    },
  });
  const dir = mkdtempSync(path.join(tmpdir(), "eca-vault-outage-"));
  writeFileSync(path.join(dir, "api-token"), `${API_TOKEN}\n`);
  try {
    const w = await E2eWorld.create(sim, {
      vault,
      // Explicit, so that changed defaults do not change what this test means: one Vault call gives up after
      // 3 s and two retries; the lease outlives verify_timeout and three Vault timeouts, but not the outage.
      vaultExtra: ["timeout: 3s", "max_retries: 2"],
      verifyTimeout: "15s",
      leaseTtl: "20s",
      rotationExtra: ["scan_interval: 1s", "max_attempts: 5", "retry_budget: 1h", "retire_after: 0s"],
      extraYaml: [
        "server:",
        `  listen: 127.0.0.1:${await freePort()}`,
        "  api_tokens:",
        `    ci: { file: ${path.join(dir, "api-token")} }`,
        "log:",
        "  level: debug",
      ],
    });
    const cred = await w.credential("vault-outage", c.metadata);
    const createdAt = Date.now();
    const cw = { sim, w, cred, promotionsBefore: sim.counters().promotions };
    const stagedBefore = sim.counters().stagedPosts;
    const daemon = await ServeProcess.start(["--config", w.configFile], {
      VAULT_ADDR: vault.addr,
      VAULT_TOKEN: vault.token,
    });
    const readyBodies: string[] = [];
    try {
      if (c.activationDelayMs !== undefined) {
        // The delay must not hit the pair KV holds now: switch it on once that pair is older than the delay.
        await sleep(Math.max(0, createdAt + c.activationDelayMs + 250 - Date.now()));
        sim.setOptions({ activationDelayMs: c.activationDelayMs });
      }
      for (const f of c.faults ?? []) sim.addFault(f);
      armed = true;
      await w.admin.must(
        "PATCH",
        `${MOUNT}/metadata/${cred.path}`,
        { custom_metadata: c.flag },
        { "Content-Type": "application/merge-patch+json" },
      );

      // Before the outage: KV's pair logs in at every poll, until Vault goes down at the case's moment.
      let last = cred.oldPair;
      const reachBy = Date.now() + 60_000;
      while (downAt === undefined) {
        expect(Date.now(), "the rotation never reached the moment of the outage").toBeLessThan(reachBy);
        let kv: KvEntry | undefined;
        try {
          kv = await w.entry(cred.path);
        } catch (err) {
          if (downAt !== undefined) break; // Vault went down during the read
          throw err;
        }
        last = pairOf(kv);
        if (kv !== undefined && c.downWhenKv?.(kv, cred) === true) goDown();
        // A refusal is allowed only once an emergency's PATCH has revoked the old pair (then Vault is down).
        if (!(await logsIn(sim, last))) expect(c.mode === "emergency" && downAt !== undefined).toBe(true);
        if (downAt === undefined) await sleep(POLL_MS);
      }
      const wentDown = downAt;
      await halted;

      // The outage: the daemon lives, says it is not ready, and KV's last pair keeps logging in (standard mode).
      const pollDown = async () => {
        expect(alive(daemon), daemon.stderr).toBe(true);
        if (c.mode === "standard") expect(await logsIn(sim, last)).toBe(true);
        const ready = await fetch(`${daemon.url}/readyz`);
        const text = await ready.text();
        readyBodies.push(text);
        expect(ready.status, text).toBe(503);
        expect((JSON.parse(text) as { checks: unknown }).checks).toEqual(
          expect.arrayContaining([expect.objectContaining({ name: "vault", ok: false })]),
        );
        await sleep(POLL_MS);
      };
      let downPolls = 0;
      while (Date.now() < wentDown + OUTAGE_MS) {
        await pollDown();
        downPolls += 1;
      }
      // The metrics still answer (they live in the process) and count the failed scans.
      const metrics = await fetch(`${daemon.url}/metrics`);
      const metricsText = await metrics.text();
      readyBodies.push(metricsText);
      expect(metrics.status).toBe(200);
      expect(
        Number(/^eca_rotator_scan_failures_total (\d+)$/m.exec(metricsText)?.[1]),
      ).toBeGreaterThanOrEqual(5);
      // The API says "unavailable" rather than failing or hanging, and a rotate request (a CI job retrying)
      // queues nothing: the one rotation under way stays the only one.
      const api = `${daemon.url}/v1/credentials/${cred.path}`;
      const one = await fetch(api);
      const oneText = await one.text();
      readyBodies.push(oneText);
      expect(one.status, oneText).toBe(503);
      expect(oneText).toContain('"UNAVAILABLE"');
      const asked = await fetch(`${api}/rotate`, {
        method: "POST",
        headers: { authorization: `Bearer ${API_TOKEN}`, "content-type": "application/json" },
        body: '{"mode":"now","reason":"retried during the outage"}',
      });
      const askedText = await asked.text();
      readyBodies.push(askedText);
      expect([409, 503], askedText).toContain(asked.status);
      await server.start(); // sealed
      const sealedUntil = Date.now() + SEALED_MS;
      while (Date.now() < sealedUntil) {
        await pollDown();
        downPolls += 1;
      }
      expect(downPolls).toBeGreaterThan(10);
      const unsealAt = Date.now();
      await server.unseal(unsealKey);
      await waitForHealthy(server.addr, 30_000);

      // Back: the daemon finishes on its own; KV's pair logs in at every poll (an emergency's once published).
      const completed = (r: LogRecord) => r.msg === "rotation completed" && r["path"] === cred.path;
      const finishBy = unsealAt + RECOVERY_SCANS * 1_000;
      while (!daemon.records.some(completed)) {
        expect(Date.now(), "the rotation did not complete after Vault came back").toBeLessThan(finishBy);
        expect(alive(daemon), daemon.stderr).toBe(true);
        const pair = pairOf(await w.entry(cred.path));
        if (c.mode === "emergency" && pair.key === cred.oldPair.key) {
          expect(Date.now(), "KV still names the revoked pair").toBeLessThan(
            unsealAt + PUBLISH_AFTER_UNSEAL_MS,
          );
        } else {
          expect(await logsIn(sim, pair)).toBe(true);
        }
        await sleep(POLL_MS);
      }
      let ready = { status: 0, text: "" };
      for (let i = 0; i < 40 && ready.status !== 200; i++) {
        if (i > 0) await sleep(250);
        const res = await fetch(`${daemon.url}/readyz`);
        ready = { status: res.status, text: await res.text() };
        readyBodies.push(ready.text);
      }
      expect(ready.status, ready.text).toBe(200);

      // Once, not twice: one staged set, one PATCH, one promotion; the journal and the audit say the same.
      expect(sim.counters().stagedPosts - stagedBefore).toBe(1);
      expect(events.filter((e) => e.method === "PATCH")).toHaveLength(1);
      const stop = await daemon.stop("SIGTERM");
      expect(stop.code, daemon.stdout.slice(-3000)).toBe(0);
      w.outputs.push(daemon.stdout, daemon.stderr, ...readyBodies);
      await expectSettledClean(cw); // one promotion, clean KV and Salesforce, no secret in any output
      const audit = w.auditEvents().filter((e) => e.path === cred.path);
      const types = audit.map((e) => e.type);
      expect(types.filter((t) => t === "rotation.started")).toHaveLength(1);
      expect(types.filter((t) => t === "rotation.completed")).toHaveLength(1);
      expect(new Set(audit.map((e) => e.rotationId)).size).toBe(1);
      const after = audit.find((e) => e.type === c.recordedAfterUnseal);
      expect(Date.parse(String(after?.["time"])), types.join(",")).toBeGreaterThan(unsealAt);
      if (c.mode === "emergency") {
        const published = audit.find((e) => e.type === "rotation.published");
        expect(Date.parse(String(published?.["time"]))).toBeLessThan(unsealAt + PUBLISH_AFTER_UNSEAL_MS);
      }
      const verify = await w.cli(["audit", "verify", w.auditFile ?? ""]);
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);

      // The daemon saw the outage and said so, without a task throwing; no secret in what it printed.
      expect(daemon.records.some((r) => r.msg === "scan failed; retrying at the next interval")).toBe(true);
      expect(daemon.records.filter((r) => r.msg === "rotation task threw (a bug)")).toEqual([]);
      const printed = [daemon.stdout, daemon.stderr, ...readyBodies].join("\n");
      const main = sim.primaryPair(cred.app.appId, cred.app.consumerId);
      for (const secret of [
        API_TOKEN,
        vault.token,
        unsealKey,
        sim.adminApp.consumerSecret,
        cred.oldPair.secret,
        main.secret,
      ]) {
        expect(printed.includes(secret), `${secret.slice(0, 12)}… in the daemon's output`).toBe(false);
      }
    } finally {
      daemon.child.kill("SIGKILL");
    }
  } finally {
    await sim.close();
    await server.stop();
  }
}

describe("eca-rotator serve while Vault is gone for 30 s mid-rotation", () => {
  for (const c of OUTAGE_CASES) {
    it.concurrent(
      `${c.mode} rotation, Vault down ${c.name}: the daemon lives, KV's pair logs in, it finishes once after the unseal`,
      () => rideOutOutage(c),
      150_000,
    );
  }
});
