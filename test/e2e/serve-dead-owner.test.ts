// A daemon SIGKILLed in the middle of a rotation: with the default lease_ttl (30s) and scan_interval (60s), the
// other replica's next scan after the dead owner's lease lapsed resumes the rotation and finishes it. Two real
// `eca-rotator serve` processes on one config, the run's OpenBao, the Salesforce simulator answering every call
// after a delay so that a rotation lasts over half a minute: longer than the lease, which only the owner's
// background renewals keep alive, and long enough to die at a random step.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { startSalesforceSimulator } from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { ServeProcess } from "../support/serve-process.ts";
import { freePort } from "../support/vault-backend.ts";
import { expectCompletedAudit, expectRotatedClean } from "./e2e-invariants.ts";
import { E2eWorld } from "./e2e-kit.ts";

const LEASE_TTL_MS = 30_000; // the default
const SCAN_INTERVAL_MS = 60_000; // the default
/**
 * Per Salesforce call: a standard rotation makes 10 of them, plus the admin login and the org id on a process's
 * first rotation: about 36 s in all, so a kill 2 to 20 s in always finds the rotation under way.
 */
const SALESFORCE_LATENCY_MS = 3_000;
/** The longest the rest of the rotation can take once taken over: all of it, with a login (12 calls). */
const WHOLE_ROTATION_MS = 12 * SALESFORCE_LATENCY_MS + 4_000;

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("eca-rotator serve, a dead owner's rotation", () => {
  it("is finished by the other daemon within lease_ttl + scan_interval of a SIGKILL at a random moment", async () => {
    const sim = await startSalesforceSimulator({ rotateSemantics: "overlap" });
    const daemons: ServeProcess[] = [];
    try {
      const w = await E2eWorld.create(sim, {
        soak: "0s",
        verifyTimeout: "2m",
        // No lease_ttl and no scan_interval: the defaults are what is measured.
        extraYaml: ["server:", `  listen: 127.0.0.1:${await freePort()}`, "log:", "  level: debug"],
      });
      const configB = path.join(w.dir, "config-b.yaml");
      writeFileSync(
        configB,
        readFileSync(w.configFile, "utf8").replace(
          /listen: 127\.0\.0\.1:\d+/,
          `listen: 127.0.0.1:${await freePort()}`,
        ),
      );
      const env = { VAULT_ADDR: w.vault.addr, VAULT_TOKEN: w.vault.token };
      const cred = await w.credential("dead-owner", { rotate: "now", rotate_reason: "CHG-kill" });
      const before = sim.counters().promotions;
      sim.addFault({ latencyMs: SALESFORCE_LATENCY_MS });

      const a = await ServeProcess.start(["--config", w.configFile], env);
      daemons.push(a);
      const ownedBy = async (d: ServeProcess) => {
        const lease = await w.lease(cred.path);
        return String(lease?.data["owner"] ?? "").includes(`:${d.child.pid}:`) ? lease : undefined;
      };
      await until("daemon A to claim the credential", 30_000, () => ownedBy(a));
      const startedAt = Date.now();
      const b = await ServeProcess.start(["--config", configB], env);
      daemons.push(b);

      // A random moment of A's rotation (which lasts about 36 s): A is still working on it.
      const killAfter = 2_000 + Math.floor(Math.random() * 18_000);
      await new Promise((r) => setTimeout(r, Math.max(0, startedAt + killAfter - Date.now())));
      const journalAtKill = await w.journal(cred.path);
      const leaseAtKill = await ownedBy(a);
      expect(journalAtKill, "A finished before the kill").toBeDefined();
      expect(leaseAtKill, "A lost its lease while alive").toBeDefined();
      a.child.kill("SIGKILL");
      const killedAt = Date.now();
      await a.exited();
      // A renewed its lease while it worked: it was written less than a lease's life before the kill.
      const expiresAt = Date.parse(String(leaseAtKill?.data["expires_at"]));
      expect(expiresAt).toBeGreaterThan(killedAt);
      expect(expiresAt).toBeLessThanOrEqual(killedAt + LEASE_TTL_MS);

      const takenOverAt = await until("daemon B to take the rotation over", 2 * 60_000, async () =>
        (await ownedBy(b)) === undefined ? undefined : Date.now(),
      );
      const doneAt = await until("the rotation to finish", WHOLE_ROTATION_MS + 20_000, async () => {
        const kv = await w.entry(cred.path);
        const done = kv?.meta["rotation_state"] === "idle" && (await w.journal(cred.path)) === undefined;
        return done ? Date.now() : undefined;
      });
      const took = { takeover: takenOverAt - killedAt, done: doneAt - killedAt };
      console.log(
        `killed ${killAfter} ms into the rotation at step ${String(journalAtKill?.data["step"])}; ` +
          `taken over ${took.takeover} ms and finished ${took.done} ms after the kill`,
      );
      // Never before the dead owner's lease ran out; then at the next scan (plus the time a scan takes).
      expect(takenOverAt).toBeGreaterThanOrEqual(expiresAt);
      expect(took.takeover).toBeLessThanOrEqual(LEASE_TTL_MS + SCAN_INTERVAL_MS + 2_000);
      // Finishing the rest is at most a whole rotation against this slow simulator.
      expect(took.done).toBeLessThanOrEqual(LEASE_TTL_MS + SCAN_INTERVAL_MS + WHOLE_ROTATION_MS);

      await b.waitForLog((r) => r.msg === "rotation completed" && r["path"] === cred.path, 10_000);
      expect((await b.stop()).code).toBe(0);
      w.outputs.push(a.stdout, a.stderr, b.stdout, b.stderr);
      await expectRotatedClean(w, cred, before);
      const types = expectCompletedAudit(w, cred);
      expect(types.filter((t) => t === "rotation.started")).toHaveLength(1);
      expect(types).toContain("rotation.resumed");
    } finally {
      for (const d of daemons) d.child.kill("SIGKILL");
      await sim.close();
    }
  }, 240_000);
});
