// `eca-rotator serve` as a real process against the run's bao server, the Salesforce simulator and a loopback
// webhook receiver: a flagged credential is rotated within one scan interval, chat hears of it, the audit file
// verifies, /metrics passes promtool, the status page renders in Chromium, the API answers with the right
// codes, and no secret appears in any output. A second test stops the daemon mid-rotation and restarts it.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  verifyWebhookSignature,
} from "../../src/adapters/chat/signed-webhook.ts";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { launchChromium } from "../support/chromium.ts";
import { ServeProcess } from "../support/serve-process.ts";
import { requireTool, runTool } from "../support/system-tools.ts";
import { freePort } from "../support/vault-backend.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.ts";
import { expectCompletedAudit, expectRotatedClean } from "./e2e-invariants.ts";
import { CANARY, E2eWorld, MOUNT } from "./e2e-kit.ts";

const API_TOKEN = "test-secret-canary-api-token-5b1e";
const HMAC_KEY = "test-secret-canary-hmac-key-9c2d";

let sim: SalesforceSimulator;
let hooks: WebhookReceiver;
beforeAll(async () => {
  sim = await startSalesforceSimulator();
  hooks = await startWebhookReceiver();
});
afterAll(async () => {
  await hooks?.close();
  await sim?.close();
});

async function daemonWorld(
  opts: { soak?: string; verifyTimeout?: string; leaseTtl?: string; shutdown?: string } = {},
) {
  const port = await freePort();
  const dir = (await import("node:fs")).mkdtempSync(
    path.join((await import("node:os")).tmpdir(), "eca-serve-"),
  );
  writeFileSync(path.join(dir, "api-token"), `${API_TOKEN}\n`);
  writeFileSync(path.join(dir, "hmac"), HMAC_KEY);
  const w = await E2eWorld.create(sim, {
    soak: opts.soak ?? "0s",
    verifyTimeout: opts.verifyTimeout ?? "20s",
    ...(opts.leaseTtl === undefined ? {} : { leaseTtl: opts.leaseTtl }),
    rotationExtra: ["scan_interval: 1s"],
    extraYaml: [
      "server:",
      `  listen: 127.0.0.1:${port}`,
      `  shutdown_timeout: ${opts.shutdown ?? "10s"}`,
      "  status_refresh: 5s",
      "  api_tokens:",
      `    ci: { file: ${path.join(dir, "api-token")} }`,
      "notifications:",
      "  targets:",
      "    siem:",
      "      type: webhook",
      "      url: { env: ECA_TEST_WEBHOOK_URL }",
      `      secret: { file: ${path.join(dir, "hmac")} }`,
      "log:",
      "  level: debug",
    ],
  });
  return w;
}

function serve(w: E2eWorld): Promise<ServeProcess> {
  return ServeProcess.start(["--config", w.configFile], {
    VAULT_ADDR: w.vault.addr,
    VAULT_TOKEN: w.vault.token,
    ECA_TEST_WEBHOOK_URL: `${hooks.url}/hooks/test-secret-canary-url-path`,
  });
}

async function http(url: string, init: { method?: "GET" | "POST"; token?: string; body?: string } = {}) {
  const res = await request(url, {
    method: init.method ?? "GET",
    headers: {
      ...(init.token === undefined ? {} : { authorization: `Bearer ${init.token}` }),
      ...(init.body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

describe("eca-rotator serve", () => {
  it("rotates a flagged credential within a scan interval, tells chat, and exposes it through every face", async () => {
    const w = await daemonWorld();
    const flagged = await w.credential("flagged", {
      consumers: "billing",
      rotation_contact: "team-crm",
      last_rotated: new Date().toISOString(),
      rotation_verified_at: new Date().toISOString(),
    });
    const healthy = await w.credential("healthy", {
      last_rotated: new Date().toISOString(),
      rotation_verified_at: new Date().toISOString(),
    });
    await w.admin.seedKv(
      MOUNT,
      `${w.prefix}/broken`,
      { api_key: CANARY },
      { provider: "salesforce-eca", rotation_period: "forever" },
    );
    const before = sim.counters().promotions;
    const seen = hooks.requests.length;

    const daemon = await serve(w);
    const outputs: string[] = [];
    try {
      // An operator flags the credential while the daemon runs: it is rotated within one scan interval (1 s)
      // plus the rotation's own work (well under a second against the simulator), with room for a busy CI.
      await daemon.waitForLog((r) => r.msg === "scan finished", 20_000);
      await w.admin.must(
        "PATCH",
        `${MOUNT}/metadata/${flagged.path}`,
        { custom_metadata: { rotate: "now", rotate_reason: "INC-7" } },
        { "Content-Type": "application/merge-patch+json" },
      );
      const flaggedAt = Date.now();
      await daemon.waitForLog((r) => r.msg === "rotation completed" && r["path"] === flagged.path, 20_000);
      expect(Date.now() - flaggedAt).toBeLessThan(6_000);
      const main = await expectRotatedClean(w, flagged, before);
      expect(sim.primaryPair(healthy.app.appId, healthy.app.consumerId).key).toBe(healthy.oldPair.key);

      // Chat: the signed webhook got the completed message naming the credential, consumers and contact.
      const chat = (await hooks.waitFor(seen + 1, 10_000)).slice(seen);
      const done = chat.find((r) => (r.body as { kind?: string }).kind === "rotation.completed");
      expect(done).toBeDefined();
      const text = JSON.stringify(done?.body);
      expect(text).toContain(flagged.path);
      expect(text).toContain("billing");
      expect(text).toContain("team-crm");
      expect(
        verifyWebhookSignature(
          HMAC_KEY,
          done?.headers[TIMESTAMP_HEADER.toLowerCase()] ?? "",
          done?.rawBody ?? "",
          done?.headers[SIGNATURE_HEADER.toLowerCase()] ?? "",
        ),
      ).toBe(true);
      outputs.push(...chat.map((r) => `${JSON.stringify(r.headers)} ${r.rawBody}`)); // r.path is the secret URL itself

      // Readiness and metrics.
      const ready = await http(`${daemon.url}/readyz`);
      expect(ready.status, ready.text).toBe(200);
      expect(ready.json()["checks"]).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ name: "vault", ok: true }),
          expect.objectContaining({ name: "scan", ok: true }),
          expect.objectContaining({ name: "audit:file", ok: true }),
        ]),
      );
      const metrics = await http(`${daemon.url}/metrics`);
      expect(metrics.status).toBe(200);
      const promtool = await runTool(
        requireTool("promtool", "prometheus"),
        ["check", "metrics"],
        metrics.text,
      );
      expect(promtool.stdout + promtool.stderr).toBe("");
      expect(promtool.code).toBe(0);
      expect(metrics.text).toMatch(
        /eca_rotator_rotations_total\{outcome="completed",provider="salesforce-eca"\} 1/,
      );
      expect(metrics.text).toContain('eca_rotator_credentials{state="invalid",provider="salesforce-eca"} 1');
      expect(metrics.text).toMatch(/eca_rotator_notifications_total\{target="webhook",result="sent"\} [1-9]/);
      outputs.push(ready.text, metrics.text);

      // The API: listing, one credential, and the write's status codes.
      const list = await http(`${daemon.url}/v1/credentials`);
      expect(list.status).toBe(200);
      const paths = (list.json()["credentials"] as Array<{ path: string; state: string }>).map(
        (c) => `${c.path}=${c.state}`,
      );
      expect(paths).toEqual(expect.arrayContaining([`${w.prefix}/broken=invalid`, `${healthy.path}=ok`]));
      const one = await http(`${daemon.url}/v1/credentials/${flagged.path}`);
      expect(one.status).toBe(200);
      expect(one.json()["rotation_state"]).toBe("idle");
      const rotateUrl = `${daemon.url}/v1/credentials/${healthy.path}/rotate`;
      expect((await http(rotateUrl, { method: "POST", body: '{"mode":"now"}' })).status).toBe(401);
      expect(
        (await http(rotateUrl, { method: "POST", token: "wrong-token", body: '{"mode":"now"}' })).status,
      ).toBe(401);
      expect(
        (await http(rotateUrl, { method: "POST", token: API_TOKEN, body: '{"mode":"sideways"}' })).status,
      ).toBe(400);
      expect((await http(rotateUrl, { method: "POST", token: API_TOKEN, body: "{not json" })).status).toBe(
        400,
      );
      expect(
        (
          await http(`${daemon.url}/v1/credentials/${w.prefix}/nope/rotate`, {
            method: "POST",
            token: API_TOKEN,
            body: '{"mode":"now"}',
          })
        ).status,
      ).toBe(404);
      expect(
        (
          await http(`${daemon.url}/v1/credentials/${w.prefix}/broken/rotate`, {
            method: "POST",
            token: API_TOKEN,
            body: '{"mode":"now"}',
          })
        ).status,
      ).toBe(422);
      expect((await http(`${daemon.url}/no/such/route`)).status).toBe(404);
      const accepted = await http(rotateUrl, {
        method: "POST",
        token: API_TOKEN,
        body: '{"mode":"now","reason":"api test"}',
      });
      expect(accepted.status, accepted.text).toBe(202);
      const rotationId = String(accepted.json()["rotation_id"]);
      const again = await http(rotateUrl, { method: "POST", token: API_TOKEN, body: '{"mode":"now"}' });
      expect([202, 409]).toContain(again.status); // 409 while it runs; a very fast rotation may already be done
      let status = "";
      for (let i = 0; i < 100 && status !== "completed"; i++) {
        const r = await http(`${daemon.url}/v1/rotations/${rotationId}`);
        status = String(r.json()["status"]);
        outputs.push(r.text);
        if (status !== "completed") await new Promise((res) => setTimeout(res, 200));
      }
      expect(status).toBe("completed");
      const rotatedByApi = await w.entry(healthy.path);
      expect(rotatedByApi?.data["rotated_by"]).toMatch(/http:ci/);

      // The status page in a real browser: the seeded credentials, the invalid one first.
      const browser = await launchChromium();
      try {
        const page = await browser.newPage();
        const res = await page.goto(`${daemon.url}/`);
        expect(res?.status()).toBe(200);
        const rows = await page.locator("tbody tr").allTextContents();
        const order = [`${w.prefix}/broken`, flagged.path, healthy.path].map((p) =>
          rows.findIndex((t) => t.includes(p)),
        );
        expect(order.every((i) => i >= 0)).toBe(true);
        expect(order[0]).toBeLessThan(order[1] ?? -1);
        await page.screenshot({ path: "test-artifacts/serve-status-page.png", fullPage: true });
        outputs.push(await page.content());
      } finally {
        await browser.close();
      }

      const stop = await daemon.stop("SIGTERM");
      expect(stop.code).toBe(0);
      expect(daemon.records.some((r) => r.msg === "stopped")).toBe(true);

      const verify = await w.cli(["audit", "verify", w.auditFile ?? ""]);
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
      expectCompletedAudit(w, flagged);

      // No secret in any output of the daemon: logs, stderr, audit, chat, metrics, API answers, the page.
      const newHealthy = sim.primaryPair(healthy.app.appId, healthy.app.consumerId);
      const everything = [daemon.stdout, daemon.stderr, ...outputs, w.auditLines().join("\n")].join("\n");
      for (const secret of [
        API_TOKEN,
        HMAC_KEY,
        CANARY,
        "test-secret-canary-url-path",
        main.secret,
        flagged.oldPair.secret,
        newHealthy.secret,
        healthy.oldPair.secret,
        sim.adminApp.consumerSecret,
      ]) {
        const at = everything.indexOf(secret);
        expect(
          at,
          `${secret.slice(0, 24)}… found in: ${everything.slice(Math.max(0, at - 300), at + 60)}`,
        ).toBe(-1);
      }
    } finally {
      daemon.child.kill("SIGKILL");
    }
  }, 90_000);

  it("stops cleanly on SIGTERM mid-rotation and a restarted daemon finishes the rotation", async () => {
    // New pairs take 3 s to work at Salesforce: the rotation is verifying when the signal arrives.
    sim.setOptions({ activationDelayMs: 3_000 });
    try {
      const w = await daemonWorld({ verifyTimeout: "20s", leaseTtl: "60s", shutdown: "15s" });
      const cred = await w.credential("midway", { rotate: "now" });
      const before = sim.counters().promotions;

      const first = await serve(w);
      for (let i = 0; i < 200; i++) {
        const j = await w.journal(cred.path);
        if (j !== undefined && ["staged", "verifying", "verified"].includes(String(j.data["step"]))) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const stop = await first.stop("SIGTERM");
      expect(stop.code).toBe(0);
      expect(stop.ms).toBeLessThan(15_000);
      const paused = first.records.find(
        (r) => r["outcome"] === "skipped" && String(r["reason"] ?? "").startsWith("paused at"),
      );
      expect(paused, first.stdout.slice(-3000)).toBeDefined();
      // The journal is kept and the lease handed back: nothing waits for it to expire.
      expect(await w.journal(cred.path)).toBeDefined();
      const lease = await w.lease(cred.path);
      expect(lease === undefined || Date.parse(String(lease.data["expires_at"])) <= Date.now()).toBe(true);

      const second = await serve(w);
      try {
        await second.waitForLog((r) => r.msg === "rotation completed" && r["path"] === cred.path, 30_000);
        await second.stop("SIGTERM");
      } finally {
        second.child.kill("SIGKILL");
      }
      sim.setOptions({ activationDelayMs: 0 });
      await expectRotatedClean(w, cred, before);
      const verify = await w.cli(["audit", "verify", w.auditFile ?? ""]);
      expect(verify.code).toBe(0);
    } finally {
      sim.setOptions({ activationDelayMs: 0 });
    }
  }, 90_000);
});
