// provider=generated end to end: the real CLI against the run's bao server. `rotate` with soak 0, `rotate
// --no-wait` then `run --once` after the soak, and a process killed right after publishing that `run --once`
// finishes with the same secret. No secret (old or new) appears in any output or in the audit file.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { E2eWorld, MOUNT } from "./e2e-kit.ts";

const OLD = "test-secret-canary-generated-old-4d1c";

let sim: SalesforceSimulator;
beforeAll(async () => {
  sim = await startSalesforceSimulator();
});
afterAll(async () => {
  await sim?.close();
});

async function webhookSecret(
  w: E2eWorld,
  name: string,
  metadata: Record<string, string> = {},
): Promise<string> {
  const p = `${w.prefix}/${name}`;
  await w.admin.seedKv(
    MOUNT,
    p,
    { current_secret: OLD, endpoint: "https://hooks.example.com" },
    { provider: "generated", credential_type: "webhook_secret", ...metadata },
  );
  return p;
}

async function expectCompleted(w: E2eWorld, p: string, version: number): Promise<string> {
  const kv = await w.entry(p);
  const secret = String(kv?.data["current_secret"]);
  expect(secret).toMatch(/^[0-9a-f]{64}$/);
  expect(kv?.data["previous_secret"]).toBe("");
  expect(kv?.data["rotation_phase"]).toBe("complete");
  expect(kv?.data["endpoint"]).toBe("https://hooks.example.com");
  expect(kv?.version).toBe(version);
  expect(kv?.meta["rotation_state"]).toBe("idle");
  expect(kv?.meta["rotation_verified_at"]).toMatch(/Z$/);
  expect(kv?.meta["last_rotated"]).toBe(kv?.meta["rotation_verified_at"]);
  expect(await w.journal(p)).toBeUndefined();
  expect(await w.lease(p)).toBeUndefined();
  const types = w
    .auditEvents()
    .filter((e) => e.path === p)
    .map((e) => e.type);
  expect(types).toEqual(
    expect.arrayContaining(["rotation.published", "rotation.retired", "rotation.completed"]),
  );
  w.expectNoLeak([OLD, secret]);
  return secret;
}

describe("provider=generated through the CLI", () => {
  it("rotate with soak 0 publishes a new secret and completes the overlap at once", async () => {
    const w = await E2eWorld.create(sim);
    const p = await webhookSecret(w, "hook");
    const run = await w.cli(["rotate", p, "--reason", "half-yearly"]);
    expect(run.stdout).toMatch(
      new RegExp(
        `^completed: ${p}: rotated \\(standard\\) in \\S+; new generated secret published as KV version 2; previous_secret is cleared\\n$`,
      ),
    );
    expect(run.code).toBe(0);
    await expectCompleted(w, p, 3);
    expect(run.stderr).toContain(`notice: Rotated ${p}`);
  }, 60_000);

  it("rotate --no-wait leaves both secrets accepted; run --once after the soak ends the overlap", async () => {
    const w = await E2eWorld.create(sim, { soak: "3s" });
    const p = await webhookSecret(w, "soaking");
    const first = await w.cli(["rotate", p, "--no-wait"]);
    expect(first.stdout).toMatch(
      new RegExp(
        `^waiting: ${p}: the new secret is published and both secrets are accepted \\(dual-accept\\) until \\S+Z`,
      ),
    );
    expect(first.code).toBe(0);
    const during = await w.entry(p);
    expect(during?.data["previous_secret"]).toBe(OLD);
    expect(during?.data["rotation_phase"]).toBe("dual-accept");
    expect(during?.meta["rotation_state"]).toBe("awaiting_promotion");
    const published = String(during?.data["current_secret"]);

    const early = await w.cli(["run", "--once"]);
    expect(early.stdout).toMatch(new RegExp(`${p}\\s+resume\\s+waiting for the soak until`));
    expect((await w.entry(p))?.data["previous_secret"]).toBe(OLD);

    await new Promise((r) => setTimeout(r, 3_100));
    const later = await w.cli(["run", "--once"]);
    expect(later.stdout).toMatch(
      new RegExp(`${p}\\s+resume\\s+completed: new generated secret, KV version 2`),
    );
    expect(await expectCompleted(w, p, 3)).toBe(published);
  }, 60_000);

  it("a process killed right after publishing is finished by run --once with the same secret, published once", async () => {
    const w = await E2eWorld.create(sim, { leaseTtl: "3s", verifyTimeout: "1s" });
    const p = await webhookSecret(w, "crashing");
    const killed = await w.cli(["rotate", p], {
      ECA_ROTATOR_TEST_CRASH_AT: "after:store.writeFields",
    });
    expect(killed.signal).toBe("SIGKILL");
    const published = await w.entry(p);
    expect(published?.data["rotation_phase"]).toBe("dual-accept");
    expect(published?.version).toBe(2);

    await new Promise((r) => setTimeout(r, 3_100)); // the dead process's lease expires
    const resumed = await w.cli(["run", "--once"]);
    expect(resumed.stdout).toMatch(
      new RegExp(`${p}\\s+resume\\s+completed: new generated secret, KV version 2`),
    );
    expect(await expectCompleted(w, p, 3)).toBe(String(published?.data["current_secret"]));
  }, 60_000);
  it("rotate --dry-run describes the overlap in the provider's words and changes nothing", async () => {
    const w = await E2eWorld.create(sim, { soak: "2h" });
    const soaked = await webhookSecret(w, "hook-dry-soak");
    const confirmed = await webhookSecret(w, "hook-dry-flag", { confirm_by: "flag" });

    const bySoak = await w.cli(["rotate", soaked, "--dry-run"]);
    expect(bySoak.code).toBe(0);
    expect(bySoak.stdout).toContain(
      "overlap: both secrets are accepted for 2h, then previous_secret is cleared",
    );
    expect(bySoak.stdout).toContain("would rotate: yes");
    expect(bySoak.stdout).not.toContain("promot");

    const byFlag = await w.cli(["rotate", confirmed, "--dry-run"]);
    expect(byFlag.code).toBe(0);
    expect(byFlag.stdout).toContain(
      "overlap: both secrets are accepted until an operator sets rotate=now (confirm_by=flag)",
    );
    const emergency = await w.cli(["rotate", soaked, "--dry-run", "--emergency"]);
    expect(emergency.stdout).toContain("overlap: none (emergency: the old secret is dropped");

    for (const p of [soaked, confirmed]) {
      const kv = await w.entry(p);
      expect(kv?.version).toBe(1);
      expect(kv?.data["current_secret"]).toBe(OLD);
    }
    w.expectNoLeak([OLD]);
  }, 60_000);
});
