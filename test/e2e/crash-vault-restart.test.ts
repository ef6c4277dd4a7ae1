// Vault itself goes away mid-rotation: a non-dev raft server (test/support/standalone-server.ts) is THIS test's
// Vault. The rotator dies right after Salesforce created the staged set, the server is killed and started again on
// the same data folder and port, the test unseals it, and `run --once` settles the rotation from the journal.
// A second case stops the server under a live `run --once` (the process must fail, not hang or double-stage).
import { describe, expect, it } from "vitest";
import { startSalesforceSimulator } from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { type StandaloneServer, startStandaloneServer } from "../support/standalone-server.ts";
import { useVault, VaultAdmin } from "../support/vault-admin.ts";
import type { VaultTarget } from "../support/vault-backend.ts";
import { waitForHealthy } from "../support/vault-backend.ts";
import { expectSettledClean, LEASE_TTL_MS, settle, TEST_MODE } from "./crash-matrix-kit.ts";
import { E2eWorld, MOUNT } from "./e2e-kit.ts";

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
          ...TEST_MODE,
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
