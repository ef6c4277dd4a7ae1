// provider=manual through the real processes: the rotator never rotates it, but once an operator writes a new
// value, `run --once` (and `serve` after each scan) records the rotation in the metadata exactly once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { ServeProcess } from "../support/serve-process.ts";
import { freePort } from "../support/vault-backend.ts";
import { E2eWorld, MOUNT } from "./e2e-kit.ts";

let sim: SalesforceSimulator;
beforeAll(async () => {
  sim = await startSalesforceSimulator();
});
afterAll(async () => {
  await sim?.close();
});

const SECRET_V2 = "test-secret-canary-manual-v2";

describe("provider=manual", () => {
  it("run --once adopts it, then records the operator's new value once", async () => {
    const w = await E2eWorld.create(sim);
    const path = `${w.prefix}/erp-password`;
    await w.admin.seedKv(
      MOUNT,
      path,
      { password: "test-secret-canary-manual-v1" },
      { provider: "manual", rotation_period: "90d" },
    );

    const first = await w.cli(["run", "--once"]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).not.toContain("recorded:");
    const adopted = await w.entry(path);
    expect(adopted?.meta["rotation_verified_at"]).toMatch(/^\d{4}-/);

    await new Promise((r) => setTimeout(r, 20)); // a later created_time than the adopted version
    await w.admin.must("POST", `${MOUNT}/data/${path}`, { data: { password: SECRET_V2 } });
    const second = await w.cli(["run", "--once"]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain(`recorded: ${path}: manual rotation (KV version 2)`);
    const recorded = await w.entry(path);
    expect(recorded?.meta["last_rotated"]).toBe(recorded?.meta["rotation_verified_at"]);
    expect(Date.parse(String(recorded?.meta["last_rotated"]))).toBeGreaterThan(
      Date.parse(String(adopted?.meta["rotation_verified_at"])),
    );

    // The same audit trail as engine rotations: one rotation.recorded event, in the hash-chained file.
    const events = w.auditEvents().filter((e) => e.path === path);
    expect(events.map((e) => e.type)).toEqual(["rotation.recorded"]);
    expect(events[0]).toMatchObject({
      provider: "manual",
      trigger: "manual",
      actor: "kv-write",
      kvVersion: 2,
    });

    const third = await w.cli(["run", "--once"]);
    expect(third.stdout).not.toContain("recorded:");
    expect(w.auditEvents().filter((e) => e.path === path)).toHaveLength(1);
    w.expectNoLeak([SECRET_V2, "test-secret-canary-manual-v1"]);
  }, 60_000);

  it("serve records a new value written while it runs", async () => {
    const w = await E2eWorld.create(sim, {
      rotationExtra: ["scan_interval: 1s"],
      extraYaml: ["server:", `  listen: 127.0.0.1:${await freePort()}`],
    });
    const path = `${w.prefix}/legacy-api-key`;
    await w.admin.seedKv(MOUNT, path, { api_key: "test-secret-canary-legacy-1" }, { provider: "manual" });
    const daemon = await ServeProcess.start(["--config", w.configFile], {
      VAULT_ADDR: w.vault.addr,
      VAULT_TOKEN: w.vault.token,
    });
    try {
      await daemon.waitForLog((r) => r.msg === "manual credential adopted" && r["path"] === path, 15_000);
      await w.admin.must("POST", `${MOUNT}/data/${path}`, {
        data: { api_key: "test-secret-canary-legacy-2" },
      });
      const rec = await daemon.waitForLog(
        (r) => r.msg === "recorded a manual rotation" && r["path"] === path,
        15_000,
      );
      expect(rec["kvVersion"]).toBe(2);
      expect((await daemon.stop()).code).toBe(0);
      expect(daemon.stdout + daemon.stderr).not.toContain("test-secret-canary-legacy");
    } finally {
      daemon.child.kill("SIGKILL");
    }
  }, 60_000);
});
