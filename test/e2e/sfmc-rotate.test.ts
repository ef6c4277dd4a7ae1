// provider=sfmc end to end: the real CLI, the run's bao server and the simulator's Marketing Cloud v2/token.
// An operator stages a secret in "Setup" (the simulator's hook), pastes it into pending_api_key, and runs
// `rotate`; after activation in Setup a second `rotate` proves the old secret dead. A pending secret that does
// not work is refused and nothing is published. No secret appears in any output or in the audit file.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FixedClock } from "../../src/core/time.ts";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { E2eWorld, MOUNT } from "./e2e-kit.ts";

const FIVE_MINUTES = 5 * 60_000;

let sim: SalesforceSimulator;
let clock: FixedClock;
beforeAll(async () => {
  clock = new FixedClock(new Date());
  sim = await startSalesforceSimulator({ clock });
});
afterAll(async () => {
  await sim?.close();
});

async function mcCredential(w: E2eWorld, name: string) {
  const pkg = sim.mc.createPackage(name);
  const p = `${w.prefix}/${name}`;
  const meta = { provider: "sfmc", sfmc_tenant: "sim", credential_type: "oauth_client_secret" };
  await w.admin.seedKv(MOUNT, p, { client_id: pkg.clientId, api_key: pkg.clientSecret }, meta);
  const paste = (pending: string) =>
    w.admin.seedKv(
      MOUNT,
      p,
      { client_id: pkg.clientId, api_key: pkg.clientSecret, pending_api_key: pending },
      meta,
    );
  return { p, pkg, paste };
}

describe("provider=sfmc through the CLI", () => {
  it("publishes a verified staged secret, waits for activation in Setup, then proves the old one dead", async () => {
    const w = await E2eWorld.create(sim, { soak: "0s" });
    const { p, pkg, paste } = await mcCredential(w, "mc-sync");
    const staged = sim.mc.stageSecret(pkg.clientId);
    clock.advance(FIVE_MINUTES);
    await paste(staged);

    const first = await w.cli(["rotate", p, "--no-wait"]);
    expect(first.stdout).toContain(
      `waiting: ${p}: the new secret is published; the old one still gets tokens`,
    );
    expect(first.code).toBe(0);
    expect(first.stderr).toContain(
      "ACTION: activate the staged secret in Setup → Installed Packages now, then set rotate=now",
    );
    const during = await w.entry(p);
    expect(during?.data["api_key"]).toBe(staged);
    expect(during?.data["previous_key"]).toBe(pkg.clientSecret);
    expect(during?.data["pending_api_key"]).toBe("");
    expect(during?.meta["rotation_state"]).toBe("awaiting_promotion");
    expect(during?.meta["rotation_verified_at"]).toBeUndefined();

    clock.advance(FIVE_MINUTES);
    sim.mc.activateStaged(pkg.clientId);
    const second = await w.cli(["rotate", p]);
    expect(second.stdout).toMatch(
      new RegExp(
        `^completed: ${p}: rotated \\(standard\\) in \\S+; the staged Marketing Cloud secret is api_key`,
      ),
    );
    expect(second.code).toBe(0);
    // The closing step says so in plain words (the publication notice asked for the activation).
    expect(second.stderr).toMatch(
      new RegExp(`notice: Rotated ${p} \\(cli by cli\\): Marketing Cloud refuses the old secret`),
    );
    expect(second.stderr).not.toContain("ACTION:");
    const after = await w.entry(p);
    expect(after?.data["api_key"]).toBe(staged);
    expect(after?.data["previous_key"]).toBe("");
    expect(after?.meta["rotation_state"]).toBe("idle");
    expect(after?.meta["rotation_verified_at"]).toMatch(/Z$/);
    expect(after?.meta["expires_at"]).toMatch(/Z$/);
    expect(await w.journal(p)).toBeUndefined();
    expect(await w.lease(p)).toBeUndefined();
    const types = w
      .auditEvents()
      .filter((e) => e.path === p)
      .map((e) => e.type);
    expect(types).toEqual(
      expect.arrayContaining(["rotation.published", "rotation.retired", "rotation.completed"]),
    );
    w.expectNoLeak([staged, pkg.clientSecret]);
  }, 60_000);

  it("refuses a pending secret Marketing Cloud does not accept and publishes nothing", async () => {
    const w = await E2eWorld.create(sim, { soak: "0s" });
    const { p, pkg, paste } = await mcCredential(w, "mc-typo");
    const bad = "test-secret-canary-sfmc-typo-9c2e";
    await paste(bad);
    const before = await w.entry(p);

    const run = await w.cli(["rotate", p]);
    expect(run.stdout).toContain(
      `failed: ${p}: ROTATION_VERIFY_FAILED at step claimed: Marketing Cloud refused the secret in pending_api_key (invalid_client); nothing was published`,
    );
    expect(run.code).not.toBe(0);
    const after = await w.entry(p);
    expect(after?.version).toBe(before?.version);
    expect(after?.data).toEqual(before?.data);
    expect(after?.meta["rotation_state"]).toBe("failed");
    expect(await w.journal(p)).toBeUndefined();
    w.expectNoLeak([bad, pkg.clientSecret]);
  }, 60_000);

  it("run --once picks up a pasted secret without a flag, and tries a refused one only once", async () => {
    const w = await E2eWorld.create(sim, { soak: "0s" });
    const { p, pkg, paste } = await mcCredential(w, "mc-paste");
    const idle = await w.cli(["run", "--once"]);
    expect(idle.stdout).toMatch(new RegExp(`${p}\\s+-\\s+assisted rotation: an operator stages`));

    const bad = "test-secret-canary-sfmc-paste-typo-41d7";
    await paste(bad);
    const refused = await w.cli(["run", "--once"]);
    expect(refused.stdout).toMatch(
      new RegExp(`${p}\\s+rotate \\(pasted secret\\)\\s+FAILED ROTATION_VERIFY_FAILED at claimed`),
    );
    expect(refused.code).toBe(1);
    const failed = await w.entry(p);
    expect(failed?.meta["rotation_state"]).toBe("failed");
    expect(failed?.data["pending_api_key"]).toBe(bad); // kept for the operator to look at

    // The same refused secret is not tried again on every scan.
    const again = await w.cli(["run", "--once"]);
    expect(again.stdout).toMatch(new RegExp(`${p}\\s+-\\s+the last rotation failed`));
    expect(again.code).toBe(0);

    // A new paste (a newer KV version) is picked up: verified, published, then finished after activation.
    const staged = sim.mc.stageSecret(pkg.clientId);
    clock.advance(FIVE_MINUTES);
    await paste(staged);
    const published = await w.cli(["run", "--once"]);
    expect(published.stdout).toMatch(
      new RegExp(`${p}\\s+rotate \\(pasted secret\\)\\s+waiting: activate the staged secret in Setup`),
    );
    const during = await w.entry(p);
    expect(during?.data["api_key"]).toBe(staged);
    expect(during?.data["previous_key"]).toBe(pkg.clientSecret);
    expect(during?.data["pending_api_key"]).toBe("");

    clock.advance(FIVE_MINUTES);
    sim.mc.activateStaged(pkg.clientId);
    const done = await w.cli(["run", "--once"]);
    expect(done.stdout).toMatch(new RegExp(`${p}\\s+resume\\s+completed`));
    const after = await w.entry(p);
    expect(after?.data["previous_key"]).toBe("");
    expect(after?.meta["rotation_state"]).toBe("idle");
    expect(after?.meta["rotation_verified_at"]).toMatch(/Z$/);

    // Nothing pasted since: later scans read nothing and start nothing.
    const quiet = await w.cli(["run", "--once"]);
    expect(quiet.stdout).toMatch(new RegExp(`${p}\\s+-\\s+`));
    const started = w.auditEvents().filter((e) => e.path === p && e.type === "rotation.started");
    expect(started.map((e) => [e["trigger"], e["actor"]])).toEqual([
      ["pending", "operator-paste"],
      ["pending", "operator-paste"],
    ]);
    w.expectNoLeak([bad, staged, pkg.clientSecret]);
  }, 90_000);

  it("a process killed right after publishing is resumed by run --once and finished after activation", async () => {
    const w = await E2eWorld.create(sim, { soak: "0s", leaseTtl: "3s", verifyTimeout: "1s" });
    const { p, pkg, paste } = await mcCredential(w, "mc-crash");
    const staged = sim.mc.stageSecret(pkg.clientId);
    clock.advance(FIVE_MINUTES);
    await paste(staged);
    const killed = await w.cli(["rotate", p], {
      ECA_ROTATOR_TEST_CRASH_AT: "after:store.writeFields",
    });
    expect(killed.signal, killed.stdout + killed.stderr).toBe("SIGKILL");
    const published = await w.entry(p);
    expect(published?.data["api_key"]).toBe(staged);
    expect(await w.journal(p)).toBeDefined();

    await new Promise((r) => setTimeout(r, 3_100)); // the dead process's lease expires
    const resumed = await w.cli(["run", "--once"]);
    expect(resumed.stdout).toMatch(
      new RegExp(`${p}\\s+resume\\s+waiting: activate the staged secret in Setup`),
    );
    clock.advance(FIVE_MINUTES);
    sim.mc.activateStaged(pkg.clientId);
    const done = await w.cli(["rotate", p]);
    expect(done.code).toBe(0);
    const after = await w.entry(p);
    expect(after?.data["api_key"]).toBe(staged);
    expect(after?.data["previous_key"]).toBe("");
    expect(after?.meta["rotation_verified_at"]).toMatch(/Z$/);
    expect(after?.version).toBe(4); // seed, paste, publish, previous_key cleared: published once
    w.expectNoLeak([staged, pkg.clientSecret]);
  }, 60_000);
  it("rotate --dry-run names the activation in Setup as the wait and changes nothing", async () => {
    const w = await E2eWorld.create(sim, { soak: "30m" });
    const { p, pkg, paste } = await mcCredential(w, "mc-dry");
    const staged = sim.mc.stageSecret(pkg.clientId);
    await paste(staged);
    const plan = await w.cli(["rotate", p, "--dry-run"]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain(
      "overlap: both secrets work until an operator activates the new one in Setup (after a soak of 30m), then previous_key is cleared",
    );
    expect(plan.stdout).toContain("would rotate: yes");
    const kv = await w.entry(p);
    expect(kv?.version).toBe(2);
    expect(kv?.data["pending_api_key"]).toBe(staged);
    w.expectNoLeak([staged, pkg.clientSecret]);
  }, 60_000);
});
