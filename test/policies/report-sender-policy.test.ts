// policies/report-sender.hcl on a real server: a token holding only it runs the real `eca-rotator report --send`
// end to end (the webhook gets the report, its URL and HMAC key read from KV), and is refused every read of
// credential data and every write anywhere.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  verifyWebhookSignature,
} from "../../src/adapters/chat/signed-webhook.ts";
import { runCliProcess } from "../support/run-cli.ts";
import { admin, uniqueName, type VaultAdmin } from "../support/vault-admin.ts";
import { startWebhookReceiver } from "../support/webhook-receiver.ts";
import { clientWithPolicy, expectDenied, MERGE_PATCH } from "./policy-test-helpers.ts";

const DAY = 86_400_000;
const DATA_CANARY = "test-secret-canary-report-sender-data";
const HMAC_CANARY = "test-secret-canary-report-sender-hmac";

describe("policies/report-sender.hcl on a real server", () => {
  const u = uniqueName("rs");
  const prefix = `api-credentials/${u}`;
  const cred = `${prefix}/crm`;
  const webhook = `eca-rotator/webhooks/${u}`;
  let sender: VaultAdmin;

  beforeAll(async () => {
    const root = admin();
    const lastRotated = new Date(Date.now() - 200 * DAY).toISOString();
    await root.seedKv(
      "secret",
      cred,
      { client_id: "id", client_secret: DATA_CANARY },
      {
        provider: "salesforce-eca",
        eca_app_name: "App",
        last_rotated: lastRotated,
        rotation_verified_at: lastRotated,
      },
    );
    await root.seedKv("secret", `eca-rotator/${u}/journal`, { step: "claimed" });
    await root.seedKv("secret", `eca-rotator/connections/${u}`, {
      client_id: "a",
      client_secret: DATA_CANARY,
    });
    // Without Vault's default policy: the file must stand alone.
    sender = await clientWithPolicy("report-sender.hcl", { noDefaultPolicy: true });
  });

  it("runs the real report --send: reads metadata and the chat secrets in KV, and the webhook gets the report", async () => {
    const hook = await startWebhookReceiver();
    try {
      await admin().seedKv("secret", webhook, { url: `${hook.url}/in`, hmac: HMAC_CANARY });
      const dir = mkdtempSync(path.join(tmpdir(), "eca-report-sender-"));
      const file = path.join(dir, "report-cron.yaml");
      writeFileSync(
        file,
        `vault:
  prefixes: [${prefix}]
  state_prefix: eca-rotator
notifications:
  targets:
    weekly:
      type: webhook
      url: { vault: "${webhook}#url" }
      secret: { vault: "${webhook}#hmac" }
      events: [report.weekly]
`,
      );
      const res = await runCliProcess(["report", "--send", "--config", file], {
        VAULT_ADDR: sender.target.addr,
        VAULT_TOKEN: sender.token,
      });
      expect(res.stderr).toContain('report sent to chat target "weekly"\n');
      // No warning either: a refused write (a chat claim in Vault) would show here as "warning: ...".
      expect(res.stderr).not.toMatch(/warning|error/i);
      expect(res.code).toBe(0);
      expect(res.stdout).toContain(cred);

      const [req] = await hook.waitFor(1);
      const body = req?.body as { kind: string; summary: string };
      expect(body.kind).toBe("report.weekly");
      expect(body.summary).toMatch(/^1 credentials \(1 managed\): 1 overdue/);
      const signed = verifyWebhookSignature(
        HMAC_CANARY,
        req?.headers[TIMESTAMP_HEADER.toLowerCase()] ?? "",
        req?.rawBody ?? "",
        req?.headers[SIGNATURE_HEADER.toLowerCase()] ?? "",
      );
      expect(signed).toBe(true);
      expect(res.stdout + res.stderr + (req?.rawBody ?? "")).not.toContain(DATA_CANARY);
    } finally {
      await hook.close();
    }
  });

  it.each<[string, string, string, unknown?]>([
    ["read a credential's data", "GET", `secret/data/${cred}`],
    ["read an old version of a credential", "GET", `secret/data/${cred}?version=1`],
    ["read a credential's subkeys", "GET", `secret/subkeys/${cred}`],
    ["write a credential", "POST", `secret/data/${cred}`, { data: { client_secret: "x" } }],
    ["write a new credential", "POST", `secret/data/${prefix}/new`, { data: { client_secret: "x" } }],
    ["patch a credential's data", "PATCH", `secret/data/${cred}`, { data: { client_secret: "x" } }],
    [
      "patch a credential's metadata",
      "PATCH",
      `secret/metadata/${cred}`,
      { custom_metadata: { rotate: "now" } },
    ],
    ["replace a credential's metadata", "POST", `secret/metadata/${cred}`, { custom_metadata: {} }],
    ["delete a credential", "DELETE", `secret/metadata/${cred}`],
    ["destroy a credential's versions", "POST", `secret/destroy/${cred}`, { versions: [1] }],
    ["read the Salesforce connection", "GET", `secret/data/eca-rotator/connections/${u}`],
    ["read the rotator's journal", "GET", `secret/data/eca-rotator/${u}/journal`],
    ["list the rotator's state", "LIST", "secret/metadata/eca-rotator/"],
    ["write a chat claim", "POST", `secret/data/eca-rotator/notified/${u}`, { data: { key: "k" } }],
    [
      "write the weekly-report claim",
      "POST",
      "secret/data/eca-rotator/reports/weekly",
      { data: { period: "x" } },
    ],
    ["overwrite a chat secret", "POST", `secret/data/${webhook}`, { data: { url: "https://evil.example" } }],
    ["list the chat secrets", "LIST", "secret/metadata/eca-rotator/webhooks/"],
  ])("refuses to %s", async (what, method, apiPath, body) => {
    expectDenied(await sender.request(method, apiPath, body, method === "PATCH" ? MERGE_PATCH : {}), what);
  });
});
