// Operators' triggers end to end: the metadata flag rotate=now picked up by `run --once` (and cleared), and an
// emergency rotation from the command line (revoke first, outage measured, reason carried into the audit).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { expectCompletedAudit, expectRotatedClean } from "./e2e-invariants.ts";
import { E2eWorld } from "./e2e-kit.ts";

let sim: SalesforceSimulator;
beforeAll(async () => {
  sim = await startSalesforceSimulator();
});
afterAll(async () => {
  await sim?.close();
});

describe("operator triggers through the CLI", () => {
  it("rotates a credential flagged rotate=now on run --once and clears rotate and rotate_reason", async () => {
    const w = await E2eWorld.create(sim);
    const cred = await w.credential("flagged", {
      rotate: "now",
      rotate_reason: "CHG-42",
      last_rotated: new Date().toISOString(), // not due: only the flag makes it rotate
      team_owner: "payments",
    });
    const before = sim.counters().promotions;

    const run = await w.cli(["run", "--once"]);

    expect(run.stdout).toMatch(
      new RegExp(`${cred.path}\\s+rotate \\(flag\\)\\s+completed: KV version 2, key [0-9a-f]{16}, \\S+`),
    );
    expect(run.code).toBe(0);
    await expectRotatedClean(w, cred, before);
    expect((await w.entry(cred.path))?.meta["team_owner"]).toBe("payments"); // other teams' keys survive
    const started = w.auditEvents().find((e) => e.type === "rotation.started");
    expect(started).toMatchObject({ trigger: "flag", actor: "operator-flag", reason: "CHG-42" });

    const again = await w.cli(["run", "--once"]);
    expect(again.stdout).toMatch(new RegExp(`${cred.path}\\s+-\\s+not due for`));
    expect(sim.counters().promotions - before).toBe(1);
  }, 60_000);

  it("rotates revoke-first with --emergency: the outage is reported and the reason reaches the audit", async () => {
    sim.setOptions({ rotateSemantics: "overlap" });
    const w = await E2eWorld.create(sim, { soak: "1h" }); // emergency never soaks
    const cred = await w.credential("leaked");
    const before = sim.counters().promotions;

    const run = await w.cli(["rotate", cred.path, "--emergency", "--reason", "INC-1"]);

    expect(run.stdout).toMatch(
      new RegExp(
        `^completed: ${cred.path}: rotated \\(emergency\\) in \\S+; new pair published as KV version 2, key fingerprint [0-9a-f]{16}; the old pair is proven dead; outage \\d+(ms|\\.\\ds) \\(from revoking the old pair to publishing the new one\\)\\n$`,
      ),
    );
    expect(run.code).toBe(0);
    await expectRotatedClean(w, cred, before);
    const types = expectCompletedAudit(w, cred);
    // Revoke first: promoted, the new pair published to KV at once, then the old pair retired (proven dead), then
    // the new main pair verified.
    const order = ["rotation.staged", "rotation.promoted", "rotation.published", "rotation.retired"];
    expect(types.filter((t) => order.includes(t))).toEqual(order);
    expect(types.indexOf("rotation.verified")).toBeGreaterThan(types.indexOf("rotation.retired"));
    const events = w.auditEvents();
    expect(events.every((e) => e["mode"] === "emergency" && e["reason"] === "INC-1")).toBe(true);
    expect(events.find((e) => e.type === "rotation.completed")?.["outageMs"]).toEqual(expect.any(Number));
    expect(run.stderr).toMatch(
      /notice: EMERGENCY rotation of .* Outage from promotion to publication: .*Reason: INC-1\./,
    );
  }, 60_000);

  it("acts on rotate=emergency from the metadata on run --once", async () => {
    const w = await E2eWorld.create(sim);
    const cred = await w.credential("flag-emergency", { rotate: "emergency", rotate_reason: "INC-9" });
    const before = sim.counters().promotions;

    const run = await w.cli(["run", "--once"]);

    expect(run.stdout).toMatch(
      new RegExp(
        `${cred.path}\\s+rotate \\(emergency flag\\)\\s+completed: KV version 2, key [0-9a-f]{16}, \\S+, outage \\S+`,
      ),
    );
    expect(run.code).toBe(0);
    await expectRotatedClean(w, cred, before);
    expect(w.auditEvents().every((e) => e["mode"] === "emergency" && e["reason"] === "INC-9")).toBe(true);
  }, 60_000);
});
