// An operator who learns of a leak while a standard rotation soaks sets rotate=emergency: the daemon must not
// wait out the soak (the leaked pair still works during it) nor clear the flag unseen. It promotes at once.
// So must `run --once` (cron-driven installations), whose resume of the soaking journal only reports the wait.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { ServeProcess } from "../support/serve-process.ts";
import { freePort } from "../support/vault-backend.ts";
import { expectRotatedClean } from "./e2e-invariants.ts";
import { E2eWorld, MOUNT } from "./e2e-kit.ts";

let sim: SalesforceSimulator;
beforeAll(async () => {
  sim = await startSalesforceSimulator();
});
afterAll(async () => {
  await sim?.close();
});

describe("eca-rotator serve, rotate=emergency during a soak", () => {
  it("ends the soak and promotes at once, retiring the old pair", async () => {
    const w = await E2eWorld.create(sim, {
      soak: "1h",
      rotationExtra: ["scan_interval: 1s"],
      extraYaml: ["server:", `  listen: 127.0.0.1:${await freePort()}`],
    });
    const cred = await w.credential("soaking", { rotate: "now" });
    const before = sim.counters().promotions;
    const daemon = await ServeProcess.start(["--config", w.configFile], {
      VAULT_ADDR: w.vault.addr,
      VAULT_TOKEN: w.vault.token,
    });
    try {
      await daemon.waitForLog((r) => r.msg === "rotation waiting" && r["path"] === cred.path, 20_000);
      expect((await w.entry(cred.path))?.meta["rotation_state"]).toBe("awaiting_promotion");
      await w.admin.must(
        "PATCH",
        `${MOUNT}/metadata/${cred.path}`,
        { custom_metadata: { rotate: "emergency", rotate_reason: "leaked in a ticket" } },
        { "Content-Type": "application/merge-patch+json" },
      );
      const t0 = Date.now();
      await daemon.waitForLog((r) => r.msg === "rotation completed" && r["path"] === cred.path, 20_000);
      expect(Date.now() - t0).toBeLessThan(10_000); // not the hour of soak
      await expectRotatedClean(w, cred, before);
      expect((await daemon.stop()).code).toBe(0);
    } finally {
      daemon.child.kill("SIGKILL");
    }
  }, 60_000);
});

describe("eca-rotator run --once, rotate=emergency during a soak", () => {
  it("ends the soak and promotes in the same run, retiring the old pair", async () => {
    const w = await E2eWorld.create(sim, { soak: "1h" });
    const cred = await w.credential("soaking-once", { rotate: "now" });
    const before = sim.counters().promotions;
    const first = await w.cli(["run", "--once"]);
    expect(first.code).toBe(0);
    expect((await w.entry(cred.path))?.meta["rotation_state"]).toBe("awaiting_promotion");
    // A run in the middle of the soak changes nothing.
    const quiet = await w.cli(["run", "--once"]);
    expect(quiet.stdout).toContain("waiting for the soak");
    expect(sim.counters().promotions).toBe(before);
    await w.admin.must(
      "PATCH",
      `${MOUNT}/metadata/${cred.path}`,
      { custom_metadata: { rotate: "emergency", rotate_reason: "leaked in a ticket" } },
      { "Content-Type": "application/merge-patch+json" },
    );
    const run = await w.cli(["run", "--once"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/rotate \(emergency flag\)\s+completed/);
    await expectRotatedClean(w, cred, before);
    expect(sim.validPairs(cred.app.appId, cred.app.consumerId).map((p) => p.key)).not.toContain(
      cred.oldPair.key,
    );
  }, 60_000);
});
