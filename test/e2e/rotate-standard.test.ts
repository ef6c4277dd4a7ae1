// `eca-rotator rotate` and `run --once` as real processes against the run's bao server and the simulator:
// standard rotations in every rotate semantics, the soak left to `run --once` with --no-wait, and the soak
// waited out in the foreground with a countdown on stderr.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { ROTATE_SEMANTICS } from "../../src/simulator/salesforce/sim-settings.ts";
import { expectCompletedAudit, expectRotatedClean } from "./e2e-invariants.ts";
import { E2eWorld } from "./e2e-kit.ts";

let sim: SalesforceSimulator;
beforeAll(async () => {
  sim = await startSalesforceSimulator();
});
afterAll(async () => {
  await sim?.close();
});

describe("eca-rotator rotate (standard)", () => {
  it.each(ROTATE_SEMANTICS)(
    "rotates with soak 0 under %s semantics: KV holds Salesforce's new main pair and the old pair is dead",
    async (semantics) => {
      sim.setOptions({ rotateSemantics: semantics });
      const w = await E2eWorld.create(sim);
      const cred = await w.credential("crm", {}, { endpoint: "https://crm.example.com" });
      const before = sim.counters().promotions;

      const run = await w.cli(["rotate", cred.path, "--reason", "quarterly"]);

      expect(run.stdout).toMatch(
        new RegExp(
          `^completed: ${cred.path}: rotated \\(standard\\) in \\S+; new pair published as KV version 2, key fingerprint [0-9a-f]{16}; the old pair is proven dead\\n$`,
        ),
      );
      expect(run.code).toBe(0);
      await expectRotatedClean(w, cred, before);
      const kv = await w.entry(cred.path);
      expect(kv?.data["endpoint"]).toBe("https://crm.example.com"); // fields the rotator does not own survive
      expect(kv?.data["rotated_by"]).toMatch(/cli/);
      expect(expectCompletedAudit(w, cred)).toEqual(
        expect.arrayContaining(["rotation.staged", "rotation.published", "rotation.promoted"]),
      );
      expect(run.stderr).toContain(`notice: Rotated ${cred.path}`);
    },
    60_000,
  );

  it("with --no-wait leaves the rotation awaiting promotion; run --once after the soak completes it", async () => {
    sim.setOptions({ rotateSemantics: "overlap" });
    const w = await E2eWorld.create(sim, { soak: "3s" });
    const cred = await w.credential("soaking");
    const before = sim.counters().promotions;

    const first = await w.cli(["rotate", cred.path, "--no-wait"]);
    expect(first.stdout).toMatch(
      new RegExp(
        `^waiting: ${cred.path}: the new pair is published and both pairs work; promotion after the soak at \\S+Z \\(in \\d+s\\)\\n$`,
      ),
    );
    expect(first.code).toBe(0);
    const soaking = await w.entry(cred.path);
    expect(soaking?.meta["rotation_state"]).toBe("awaiting_promotion");
    expect(soaking?.data["previous_client_id"]).toBe(cred.oldPair.key);
    expect(sim.validPairs(cred.app.appId, cred.app.consumerId)).toHaveLength(2); // both pairs work
    expect(await w.journal(cred.path)).toBeDefined();

    const early = await w.cli(["run", "--once"]);
    expect(early.code).toBe(0);
    expect(early.stdout).toMatch(new RegExp(`${cred.path}\\s+resume\\s+waiting for the soak until`));
    expect(sim.counters().promotions).toBe(before);

    await new Promise((r) => setTimeout(r, 3_100));
    const later = await w.cli(["run", "--once"]);
    expect(later.stdout).toMatch(
      new RegExp(`${cred.path}\\s+resume\\s+completed: KV version 2, key [0-9a-f]{16}`),
    );
    expect(later.stdout).toMatch(
      /^summary: 1 completed, 0 waiting, 0 failed, 0 rolled back, 0 skipped, 0 left alone; 0 unmanaged not listed$/m,
    );
    expect(later.code).toBe(0);
    await expectRotatedClean(w, cred, before);
    expect(expectCompletedAudit(w, cred)).toContain("rotation.resumed");
  }, 60_000);

  it("waits out a short soak in the foreground, with countdown lines on stderr, then completes", async () => {
    sim.setOptions({ rotateSemantics: "overlap" });
    const w = await E2eWorld.create(sim, { soak: "2s" });
    const cred = await w.credential("foreground");
    const before = sim.counters().promotions;

    const run = await w.cli(["rotate", cred.path]);

    const lines = run.stdout.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^waiting: /);
    expect(lines[1]).toMatch(/^completed: /);
    expect(run.stderr).toMatch(new RegExp(`soak of ${cred.path}: promotion in \\ds`));
    expect(run.code).toBe(0);
    await expectRotatedClean(w, cred, before);
  }, 60_000);
});
