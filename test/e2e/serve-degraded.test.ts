// `serve` when things around it go wrong: an audit sink that cannot be reached never changes a rotation's
// outcome but shows in /readyz and the metrics; near Salesforce's daily API limit the daemon holds standard
// rotations back (and says so) while an emergency still runs.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { request } from "undici";
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

async function get(url: string) {
  const res = await request(url);
  const text = await res.body.text();
  return { status: res.statusCode, text };
}

describe("eca-rotator serve, degraded", () => {
  it("keeps rotating with an unreachable syslog sink, and /readyz and the metrics say so", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "eca-degraded-"));
    const [port, deadPort] = [await freePort(), await freePort()];
    const w = await E2eWorld.create(sim, {
      auditFile: false,
      rotationExtra: ["scan_interval: 1s"],
      extraYaml: [
        "audit:",
        `  file: ${path.join(dir, "audit.jsonl")}`,
        `  syslog: { address: "tcp://127.0.0.1:${deadPort}" }`,
        "server:",
        `  listen: 127.0.0.1:${port}`,
      ],
    });
    const cred = await w.credential("despite-syslog", { rotate: "now" });
    const before = sim.counters().promotions;
    const daemon = await ServeProcess.start(["--config", w.configFile], {
      VAULT_ADDR: w.vault.addr,
      VAULT_TOKEN: w.vault.token,
    });
    try {
      await daemon.waitForLog((r) => r.msg === "rotation completed" && r["path"] === cred.path, 30_000);
      await expectRotatedClean(w, cred, before);
      expect(
        daemon.records.some((r) => r.msg?.startsWith("an audit sink failed") && r["sink"] === "syslog"),
      ).toBe(true);

      const ready = await get(`${daemon.url}/readyz`);
      expect(ready.status).toBe(503);
      const checks = (
        JSON.parse(ready.text) as { checks: Array<{ name: string; ok: boolean; detail: string }> }
      ).checks;
      expect(checks.find((c) => c.name === "audit:syslog")).toMatchObject({
        ok: false,
        detail: expect.stringMatching(/^failing: \d+ failures/),
      });
      expect(checks.find((c) => c.name === "audit:file")).toMatchObject({ ok: true });
      expect(checks.find((c) => c.name === "vault")).toMatchObject({ ok: true });
      const metrics = await get(`${daemon.url}/metrics`);
      expect(metrics.text).toMatch(/eca_rotator_audit_failures_total\{sink="syslog"\} [1-9]/);
      expect(metrics.text).toMatch(/eca_rotator_audit_failures_total\{sink="file"\} 0/);
      expect((await daemon.stop()).code).toBe(0);
    } finally {
      daemon.child.kill("SIGKILL");
    }
  }, 60_000);

  it("holds a standard rotation above the API budget's stop point but still runs an emergency", async () => {
    const port = await freePort();
    const w = await E2eWorld.create(sim, {
      rotationExtra: ["scan_interval: 1s", "api_budget: { slow_at: 0.01, stop_at: 0.02 }"],
      extraYaml: ["server:", `  listen: 127.0.0.1:${port}`],
    });
    // 2% of 200 is 4 calls: the emergency rotation's own calls cross it, far from the limit itself.
    sim.setOptions({ dailyApiLimit: sim.counters().apiCalls + 200 });
    const urgent = await w.credential("urgent", { rotate: "emergency", rotate_reason: "leaked" });
    const routine = await w.credential("routine");
    const daemon = await ServeProcess.start(["--config", w.configFile], {
      VAULT_ADDR: w.vault.addr,
      VAULT_TOKEN: w.vault.token,
    });
    try {
      await daemon.waitForLog((r) => r.msg === "rotation completed" && r["path"] === urgent.path, 30_000);
      // The daemon now knows the usage from the emergency's last answer; a routine flag must wait.
      await w.admin.must(
        "PATCH",
        `${MOUNT}/metadata/${routine.path}`,
        { custom_metadata: { rotate: "now" } },
        { "Content-Type": "application/merge-patch+json" },
      );
      const held = await daemon.waitForLog(
        (r) => r.msg === "rotation held by the Salesforce API budget" && r["path"] === routine.path,
        15_000,
      );
      expect(String(held["reason"])).toMatch(/stop_at/);
      expect((await w.entry(routine.path))?.meta["rotate"]).toBe("now");
      expect(sim.primaryPair(routine.app.appId, routine.app.consumerId).key).toBe(routine.oldPair.key);
      const metrics = await get(`${daemon.url}/metrics`);
      const ratio = Number(
        /eca_rotator_salesforce_api_usage_ratio\{connection="sim"\} ([0-9.e-]+)/.exec(metrics.text)?.[1],
      );
      expect(ratio).toBeGreaterThanOrEqual(0.02);
      expect((await daemon.stop()).code).toBe(0);
    } finally {
      daemon.child.kill("SIGKILL");
      sim.setOptions({ dailyApiLimit: 100_000 });
    }
  }, 60_000);
});
