// provider=generated through `serve`: an operator flags a confirm_by=flag webhook secret, the daemon publishes
// it in dual-accept, tells chat (a real signed-webhook receiver) that the sender must be updated, and waits; a
// second rotate=now (the sender is updated) ends the overlap. Real bao, the real executable; no secret in the
// daemon's output, the chat bodies or the audit file.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { ServeProcess } from "../support/serve-process.ts";
import { freePort } from "../support/vault-backend.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.ts";
import { E2eWorld, type KvEntry, MOUNT } from "./e2e-kit.ts";

const OLD = "test-secret-canary-generated-serve-8e2a";
const API_TOKEN = "test-secret-canary-api-token-generated";
const HMAC_KEY = "test-secret-canary-hmac-generated-3d7c";

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

type ChatBody = { kind?: string; title?: string; summary?: string; next_step?: string };

async function until(
  read: () => Promise<KvEntry | undefined>,
  ok: (e: KvEntry) => boolean,
): Promise<KvEntry> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const e = await read();
    if (e !== undefined && ok(e)) return e;
    if (Date.now() > deadline) throw new Error(`timed out; last: ${JSON.stringify(e?.meta)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("serve with provider=generated", () => {
  it("flag → dual-accept and an action-needed chat message → operator's second flag → overlap complete", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "eca-gen-serve-"));
    writeFileSync(path.join(dir, "api-token"), `${API_TOKEN}\n`);
    writeFileSync(path.join(dir, "hmac"), HMAC_KEY);
    const w = await E2eWorld.create(sim, {
      soak: "1h",
      rotationExtra: ["scan_interval: 1s"],
      extraYaml: [
        "server:",
        `  listen: 127.0.0.1:${await freePort()}`,
        "  shutdown_timeout: 10s",
        "  api_tokens:",
        `    ci: { file: ${path.join(dir, "api-token")} }`,
        "notifications:",
        "  targets:",
        "    owners:",
        "      type: webhook",
        `      url: { env: ECA_TEST_WEBHOOK_URL }`,
        `      secret: { file: ${path.join(dir, "hmac")} }`,
        "      events: [rotation.action_needed, rotation.completed]",
        "log:",
        "  level: debug",
      ],
    });
    const p = `${w.prefix}/hook`;
    await w.admin.seedKv(
      MOUNT,
      p,
      { current_secret: OLD },
      { provider: "generated", credential_type: "webhook_secret", confirm_by: "flag" },
    );
    const flag = (reason: string) =>
      w.admin.must(
        "PATCH",
        `${MOUNT}/metadata/${p}`,
        { custom_metadata: { rotate: "now", rotate_reason: reason } },
        { "Content-Type": "application/merge-patch+json" },
      );

    const daemon = await ServeProcess.start(["--config", w.configFile], {
      VAULT_ADDR: w.vault.addr,
      VAULT_TOKEN: w.vault.token,
      ECA_TEST_WEBHOOK_URL: `${hooks.url}/hooks/generated`,
    });
    const chatAbout = (kind: string) =>
      hooks.requests.filter((r) => {
        const b = r.body as ChatBody;
        return b.kind === kind && (b.title ?? "").endsWith(p);
      });
    try {
      await daemon.waitForLog((r) => r.msg === "scan finished", 20_000);
      await flag("half-yearly");
      const overlap = await until(
        () => w.entry(p),
        (e) => e.meta["rotation_state"] === "awaiting_promotion",
      );
      expect(overlap.data["rotation_phase"]).toBe("dual-accept");
      expect(overlap.data["previous_secret"]).toBe(OLD);
      expect(overlap.meta["rotate"]).toBeUndefined(); // the starting flag is spent
      const secret = String(overlap.data["current_secret"]);
      expect(secret).toMatch(/^[0-9a-f]{64}$/);

      // Chat, over real HTTP: the operator is asked to switch the sender, then to set rotate=now.
      await hooks.waitFor(1, 10_000);
      const action = chatAbout("rotation.action_needed");
      expect(action).toHaveLength(1);
      const asked = action[0]?.body as ChatBody;
      expect(asked.title).toBe(`Action needed: ${p}`);
      expect(asked.summary).toContain("receivers now accept both current_secret");
      expect(asked.next_step).toContain("Update the sender to sign with current_secret");
      expect(asked.next_step).toContain(`-custom-metadata=rotate=now ${MOUNT}/${p}`);
      expect(chatAbout("rotation.completed")).toHaveLength(0);

      // Several scans later (soak 1h, confirm_by=flag) nothing has moved.
      await new Promise((r) => setTimeout(r, 2_500));
      expect((await w.entry(p))?.version).toBe(overlap.version);

      await flag("sender switched");
      await daemon.waitForLog((r) => r.msg === "rotation completed" && r["path"] === p, 20_000);
      const done = await w.entry(p);
      expect(done?.data["current_secret"]).toBe(secret);
      expect(done?.data["previous_secret"]).toBe("");
      expect(done?.data["rotation_phase"]).toBe("complete");
      expect(done?.meta["rotation_state"]).toBe("idle");
      expect(done?.meta["rotate"]).toBeUndefined();
      expect(done?.meta["rotation_verified_at"]).toMatch(/Z$/);
      expect(await w.journal(p)).toBeUndefined();

      await hooks.waitFor(2, 10_000);
      expect(chatAbout("rotation.completed")).toHaveLength(1);
      expect(chatAbout("rotation.action_needed")).toHaveLength(1);
      const chat = hooks.requests.map((r) => `${JSON.stringify(r.headers)} ${r.rawBody}`);

      const metrics = await fetch(`${daemon.url}/metrics`).then((r) => r.text());
      expect(metrics).toMatch(/eca_rotator_rotations_total\{outcome="completed",provider="generated"\} 1/);
      w.outputs.push(daemon.stdout, daemon.stderr, metrics, ...chat);
      w.expectNoLeak([OLD, secret, API_TOKEN, HMAC_KEY]);
    } finally {
      const stopped = await daemon.stop();
      expect(stopped.code).toBe(0);
    }
  }, 90_000);
});
