// `report --send`, run as the real executable against the real bao server with a loopback webhook receiver: the
// report still prints as before, the subscribed target gets the weekly-report message with the right totals,
// every invocation sends, and a config without targets is refused.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  verifyWebhookSignature,
} from "../../src/adapters/chat/signed-webhook.ts";
import { runCliProcess } from "../support/run-cli.ts";
import { admin, uniqueName, useVault } from "../support/vault-admin.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.ts";

const DAY = 86_400_000;
const HMAC_CANARY = "test-secret-canary-report-send-hmac";

interface WebhookBody {
  kind: string;
  title: string;
  summary: string;
  facts: Array<{ label: string; value: string }>;
}

describe("eca-rotator report --send", () => {
  let hook: WebhookReceiver;
  let dir: string;
  let prefix: string;
  let env: Record<string, string>;

  function config(notifications: string): string {
    const file = path.join(dir, `${uniqueName("config")}.yaml`);
    writeFileSync(
      file,
      `vault:\n  prefixes: [${prefix}]\n  state_prefix: ${uniqueName("report-send-state")}\n${notifications}`,
    );
    return file;
  }

  const withHook = () =>
    config(`notifications:
  targets:
    siem: { type: webhook, url: { env: REPORT_SEND_HOOK_URL }, secret: { file: ${dir}/hmac }, events: [report.weekly] }
    quiet: { type: webhook, url: { env: REPORT_SEND_HOOK_URL }, secret: { file: ${dir}/hmac }, events: [rotation.failed] }
`);

  beforeAll(async () => {
    hook = await startWebhookReceiver();
    dir = mkdtempSync(path.join(tmpdir(), "eca-report-send-"));
    writeFileSync(path.join(dir, "hmac"), HMAC_CANARY);
    prefix = uniqueName("report-send");
    const now = Date.now();
    const iso = (days: number) => new Date(now + days * DAY).toISOString();
    const a = admin();
    const seed = (name: string, lastRotatedDaysAgo: number) =>
      a.seedKv(
        "secret",
        `${prefix}/${name}`,
        { client_id: "id", client_secret: "test-secret-canary-report-send-value" },
        {
          provider: "salesforce-eca",
          eca_app_name: "App",
          last_rotated: iso(-lastRotatedDaysAgo),
          rotation_verified_at: iso(-lastRotatedDaysAgo),
        },
      );
    // oauth_client_secret, standard risk: 180 days; 14-day warning window
    await Promise.all([seed("late-a", 200), seed("late-b", 190), seed("soon", 170), seed("fine", 10)]);
    const vault = useVault();
    env = { VAULT_ADDR: vault.addr, VAULT_TOKEN: vault.token, REPORT_SEND_HOOK_URL: `${hook.url}/in` };
  });

  afterAll(async () => {
    await hook?.close();
  });

  it("prints the report and sends it to the target subscribed to report.weekly, once per invocation", async () => {
    const file = withHook();
    const first = await runCliProcess(["report", "--send", "--format", "markdown", "--config", file], env);
    expect(first.stdout).toMatch(/^# Credential expiry report\n/);
    expect(first.stdout).toContain(`${prefix}/late-a`);
    expect(first.stderr).toContain('report sent to chat target "siem"\n');
    expect(first.stderr).not.toContain("quiet");
    expect(first.code).toBe(0);

    // the same report again: not swallowed by dedup; --fail-on still decides the exit code
    const second = await runCliProcess(
      ["report", "--send", "--format", "markdown", "--fail-on", "overdue", "--config", file],
      env,
    );
    expect(second.stderr).toContain('report sent to chat target "siem"\n');
    expect(second.code).toBe(1);

    expect(hook.requests).toHaveLength(2);
    for (const r of hook.requests) {
      const body = r.body as WebhookBody;
      expect(body.kind).toBe("report.weekly");
      expect(body.title).toMatch(
        /^Weekly credential report manual-\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$/,
      );
      expect(body.summary).toBe(
        "4 credentials (4 managed): 2 overdue, 1 due soon, 0 failed; 3 need attention.",
      );
      expect(body.facts.slice(0, 3)).toEqual([
        { label: "Overdue", value: "2" },
        { label: "Due soon", value: "1" },
        { label: "Failed", value: "0" },
      ]);
      expect(body.facts.map((f) => f.label)).toContain(`${prefix}/late-a`);
      const signed = verifyWebhookSignature(
        HMAC_CANARY,
        r.headers[TIMESTAMP_HEADER.toLowerCase()] ?? "",
        r.rawBody,
        r.headers[SIGNATURE_HEADER.toLowerCase()] ?? "",
      );
      expect(signed).toBe(true);
    }
    for (const out of [first, second]) expect(out.stdout + out.stderr).not.toContain("canary");
  });

  it("exits 1 when the report reached no target, after printing it", async () => {
    hook.respondWith({ status: 404 });
    const res = await runCliProcess(["report", "--send", "--config", withHook()], env);
    expect(res.stdout).toContain(`${prefix}/late-a`);
    expect(res.stderr).toMatch(/report NOT sent to chat target "siem"/);
    expect(res.stderr).not.toContain(hook.url);
    expect(res.code).toBe(1);
  });

  it("exits 2 without printing a report when no chat target is configured", async () => {
    const res = await runCliProcess(["report", "--send", "--config", config("")], env);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/report --send needs notifications\.targets/);
    expect(res.stdout).toBe("");
  });
});
