// `check --notify-test` and the chat targets in plain `check`, run as the real executable against the real bao
// server, with loopback receivers standing in for Slack (answers 200) and a signed webhook (answers 500 always).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  verifyWebhookSignature,
} from "../../src/adapters/chat/signed-webhook.ts";
import { runCliProcess } from "../support/run-cli.ts";
import { uniqueName, useVault } from "../support/vault-admin.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.ts";

const URL_CANARY = "test-secret-canary-notify-url";
const HMAC_CANARY = "test-secret-canary-notify-hmac";

interface CheckJson {
  ok: boolean;
  checks: Array<{ mark: string; topic: string; text: string }>;
}

describe("eca-rotator check and its chat targets", () => {
  let slack: WebhookReceiver;
  let hook: WebhookReceiver;
  let configFile: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    slack = await startWebhookReceiver();
    hook = await startWebhookReceiver();
    hook.respondByDefault({ status: 500, body: "" });
    const dir = mkdtempSync(path.join(tmpdir(), "eca-notify-test-"));
    writeFileSync(path.join(dir, "hook-url"), `${hook.url}/hooks/${URL_CANARY}-hook\n`);
    writeFileSync(path.join(dir, "hmac"), `${HMAC_CANARY}\n`);
    configFile = path.join(dir, "config.yaml");
    writeFileSync(
      configFile,
      `vault:
  prefixes: [${uniqueName("notify-test")}]
  state_prefix: ${uniqueName("notify-state")}
notifications:
  targets:
    ops: { type: slack, url: { env: NOTIFY_TEST_SLACK_URL }, events: [rotation.failed, report.weekly] }
    siem: { type: webhook, url: { file: ${dir}/hook-url }, secret: { file: ${dir}/hmac } }
`,
    );
    const vault = useVault();
    env = {
      VAULT_ADDR: vault.addr,
      VAULT_TOKEN: vault.token,
      NOTIFY_TEST_SLACK_URL: `${slack.url}/services/${URL_CANARY}-slack`,
    };
  });

  beforeEach(() => {
    slack.requests.splice(0);
    hook.requests.splice(0);
  });

  afterAll(async () => {
    await slack?.close();
    await hook?.close();
  });

  it("sends a test message to each target and reports each one, exit 1 when one fails, never printing URL or key", async () => {
    const res = await runCliProcess(["check", "--notify-test", "--config", configFile], env);
    expect(res.stdout).toMatch(/\[ok\]\s+chat:ops\s+slack: test message sent\n/);
    expect(res.stdout).toMatch(
      /\[FAIL\]\s+chat:siem\s+webhook: NOTIFY_FAILED: chat target "siem" \(webhook\): HTTP 500 after 4 attempts\n/,
    );
    expect(res.code).toBe(1);

    const [toSlack] = await slack.waitFor(1);
    expect(slack.requests).toHaveLength(1);
    expect(toSlack?.path).toBe(`/services/${URL_CANARY}-slack`);
    const slackBody = toSlack?.body as {
      text: string;
      blocks: Array<{ type: string; text?: { text: string } }>;
    };
    expect(slackBody.text).toMatch(/^Test message from eca-rotator: A test of the chat target "ops"/);
    expect(slackBody.blocks[0]).toMatchObject({
      type: "header",
      text: { text: "ℹ️ Test message from eca-rotator" },
    });

    // the webhook was retried and every attempt carried a valid signature over its own timestamp and body
    expect(hook.requests).toHaveLength(4);
    for (const r of hook.requests) {
      expect(r.body).toMatchObject({ kind: "test", title: "Test message from eca-rotator" });
      const ok = verifyWebhookSignature(
        HMAC_CANARY,
        r.headers[TIMESTAMP_HEADER.toLowerCase()] ?? "",
        r.rawBody,
        r.headers[SIGNATURE_HEADER.toLowerCase()] ?? "",
      );
      expect(ok).toBe(true);
    }
    expect(res.stdout + res.stderr).not.toContain("canary");
    expect(res.stdout + res.stderr).not.toContain(hook.url);
  });

  it("tests only the target named by --notify-target", async () => {
    const res = await runCliProcess(
      ["check", "--notify-test", "--notify-target", "ops", "--config", configFile],
      env,
    );
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/\[ok\]\s+chat:ops\s+slack: test message sent/);
    expect(res.stdout).not.toContain("chat:siem");
    expect(slack.requests).toHaveLength(1);
    expect(hook.requests).toHaveLength(0);
  });

  it("without --notify-test resolves every target's secrets and contacts none", async () => {
    const res = await runCliProcess(["check", "--json", "--config", configFile], env);
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout) as CheckJson;
    expect(out.checks.filter((c) => c.topic.startsWith("chat:"))).toEqual([
      {
        mark: "ok",
        topic: "chat:ops",
        text: "slack, events: rotation.failed, report.weekly: configured (not contacted; use --notify-test)",
      },
      {
        mark: "ok",
        topic: "chat:siem",
        text: "webhook, all events: configured (not contacted; use --notify-test)",
      },
    ]);
    expect(slack.requests).toHaveLength(0);
    expect(hook.requests).toHaveLength(0);
  });

  it("exits 2 naming notifications.targets.ops.url when its environment variable is not set", async () => {
    const { NOTIFY_TEST_SLACK_URL: _unset, ...withoutUrl } = env;
    const res = await runCliProcess(["check", "--config", configFile], withoutUrl);
    expect(res.code).toBe(2);
    expect(res.stdout).toMatch(
      /\[FAIL\]\s+chat:ops\s+CONFIG_INVALID: notifications\.targets\.ops\.url: the environment variable NOTIFY_TEST_SLACK_URL is not set/,
    );
    // the other target is still checked on its own
    expect(res.stdout).toMatch(/\[ok\]\s+chat:siem\s+webhook, all events: configured/);
    expect(res.stdout + res.stderr).not.toContain("canary");
  });
});
