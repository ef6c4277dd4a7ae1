// The canary run: the real daemon and CLI with every output channel switched on (trace logs, the keyed audit
// file, syslog, the HTTP audit sink with credentials in its URL, a signed chat webhook, API and read tokens), a
// rotation of each provider, every HTTP route poked with right and wrong tokens, and every CLI command. Then every
// secret value Vault holds for this world (every version of every entry, the journal's new secret caught during
// the soak) and every planted canary (tokens, webhook URL and key, audit password, chain key) is searched for in
// everything that left the processes: stdout, stderr, the audit file, syslog datagrams, audit and chat bodies,
// metrics, the status page and the API's answers. Expected places are excluded by construction: a chat webhook's
// URL is only in its request line, a sink's credentials only in its Authorization header.
import dgram from "node:dgram";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { policyText } from "../policies/policy-test-helpers.ts";
import { ServeProcess } from "../support/serve-process.ts";
import { admin, uniqueName } from "../support/vault-admin.ts";
import { freePort } from "../support/vault-backend.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.ts";
import { E2eWorld, MOUNT } from "./e2e-kit.ts";

const CANARY = {
  apiToken: "test-secret-canary-api-token-0123456789abcdef",
  readToken: "test-secret-canary-read-token-0123456789abcdef",
  webhookUrlPart: "test-secret-canary-webhook-url-path-51aa",
  webhookKey: "test-secret-canary-webhook-hmac-key-77c1",
  auditPassword: "test-secret-canary-audit-password-2bd4",
  chainKey: "test-secret-canary-audit-chain-key-0123456789abcdef",
};

let sim: SalesforceSimulator;
let hooks: WebhookReceiver;
let collector: WebhookReceiver;
const syslog: string[] = [];
let udp: dgram.Socket;
beforeAll(async () => {
  sim = await startSalesforceSimulator();
  hooks = await startWebhookReceiver();
  collector = await startWebhookReceiver();
  udp = dgram.createSocket("udp4");
  udp.on("message", (m) => syslog.push(m.toString()));
  await new Promise<void>((resolve) => udp.bind(0, "127.0.0.1", resolve));
});
afterAll(async () => {
  udp?.close();
  await collector?.close();
  await hooks?.close();
  await sim?.close();
});

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await request(url, { headers });
  return { status: res.statusCode, text: await res.body.text() };
}

const SECRET_FIELDS = new Set([
  "api_key",
  "previous_key",
  "pending_api_key",
  "client_secret",
  "new_secret",
  "current_secret",
  "previous_secret",
]);

/** Every secret field of every version of every entry under `folder`, as the root token reads them. */
async function everySecretUnder(folder: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (f: string): Promise<void> => {
    const res = await admin().request("LIST", `${MOUNT}/metadata/${f}`);
    if (res.status !== 200) return;
    for (const k of (res.body as { data: { keys: string[] } }).data.keys) {
      if (k.endsWith("/")) {
        await walk(`${f}/${k.slice(0, -1)}`);
        continue;
      }
      const key = `${f}/${k}`;
      const meta = (await admin().must("GET", `${MOUNT}/metadata/${key}`)) as {
        data: { current_version: number };
      };
      for (let v = 1; v <= meta.data.current_version; v++) {
        const d = await admin().request("GET", `${MOUNT}/data/${key}?version=${v}`);
        const data = (d.body as { data?: { data?: Record<string, unknown> } } | undefined)?.data?.data ?? {};
        for (const [name, value] of Object.entries(data)) {
          // The fields that hold secrets (ids, versions, times and message keys do not).
          const secretField = SECRET_FIELDS.has(name) || (name === "key" && key.endsWith("/fingerprint-key"));
          if (secretField && typeof value === "string" && value.length >= 8) out.push(value);
        }
      }
    }
  };
  await walk(folder);
  return out;
}

describe("the canary run", () => {
  it("no planted or real secret appears in any output of the daemon or the CLI", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "eca-canary-"));
    const port = await freePort();
    const auditFile = path.join(dir, "audit", "audit.jsonl");
    const w = await E2eWorld.create(sim, {
      layout: "shipped",
      soak: "3s",
      auditFile: false,
      rotationExtra: ["scan_interval: 1s"],
      extraYaml: [
        "audit:",
        `  file: ${auditFile}`,
        "  chain_key: { env: CANARY_CHAIN_KEY }",
        `  syslog: { address: "udp://127.0.0.1:${(udp.address() as { port: number }).port}" }`,
        "  http: { url: { env: CANARY_AUDIT_URL }, flush_interval: 1s }",
        "server:",
        `  listen: 127.0.0.1:${port}`,
        "  status_refresh: 5s",
        "  api_tokens: { ci: { env: CANARY_API_TOKEN } }",
        "  read_tokens: { prometheus: { env: CANARY_READ_TOKEN } }",
        "notifications:",
        "  targets:",
        "    hook: { type: webhook, url: { env: CANARY_WEBHOOK_URL }, secret: { env: CANARY_WEBHOOK_KEY } }",
        "log: { level: trace }",
      ],
    });
    const rotatorPolicy = uniqueName("rotator");
    await admin().writePolicy(rotatorPolicy, policyText("rotator.hcl"));
    const rotatorToken = await admin().createToken({ policies: [rotatorPolicy], noDefaultPolicy: true });
    const env = {
      VAULT_ADDR: w.vault.addr,
      VAULT_TOKEN: rotatorToken,
      CANARY_API_TOKEN: CANARY.apiToken,
      CANARY_READ_TOKEN: CANARY.readToken,
      CANARY_WEBHOOK_URL: `${hooks.url}/hooks/${CANARY.webhookUrlPart}`,
      CANARY_WEBHOOK_KEY: CANARY.webhookKey,
      CANARY_AUDIT_URL: `http://auditor:${CANARY.auditPassword}@${collector.url.replace(/^http:\/\//, "")}/audit`,
      CANARY_CHAIN_KEY: CANARY.chainKey,
    };

    // One credential of each provider; the ECA is flagged, the sfmc package has a freshly staged secret pasted.
    const eca = await w.credential("salesforce/payments", { rotate: "now" });
    const other = await w.credential("salesforce/partner");
    const pkg = sim.mc.createPackage(uniqueName("mc"));
    const mcPath = `${w.prefix}/marketing/journeys`;
    const staged = sim.mc.stageSecret(pkg.clientId);
    await w.admin.seedKv(
      MOUNT,
      mcPath,
      { client_id: pkg.clientId, api_key: pkg.clientSecret, pending_api_key: staged },
      { provider: "sfmc", sfmc_tenant: "sim", soak: "0s" },
    );
    await w.admin.seedKv(
      MOUNT,
      `${w.prefix}/webhooks/signing`,
      { current_secret: "test-secret-canary-generated-current-0001" },
      { provider: "generated", credential_type: "webhook_secret", rotate: "now", soak: "0s" },
    );
    await w.admin.seedKv(
      MOUNT,
      `${w.prefix}/vendor/api`,
      { api_key: "test-secret-canary-vendor-key-0001" },
      {
        provider: "manual",
        rotation_contact: "#vendor",
      },
    );

    const served = await ServeProcess.start(["--config", w.configFile], env);
    const base = served.url;
    const answers: string[] = [];
    const journalSecrets: string[] = [];
    try {
      // During the ECA's soak the journal holds the new secret: catch it for the search.
      for (let i = 0; i < 200 && journalSecrets.length === 0; i++) {
        const j = await w.journal(eca.path);
        const s = j?.data["new_secret"];
        if (typeof s === "string") journalSecrets.push(s);
        else await new Promise((r) => setTimeout(r, 50));
      }
      expect(journalSecrets).toHaveLength(1);

      const read = { authorization: `Bearer ${CANARY.readToken}` };
      const basic = { authorization: `Basic ${Buffer.from(`x:${CANARY.readToken}`).toString("base64")}` };
      for (const route of [
        "/",
        "/metrics",
        "/readyz",
        "/healthz",
        "/v1/credentials",
        `/v1/credentials/${eca.path}`,
      ]) {
        for (const headers of [
          {},
          read,
          basic,
          { authorization: "Bearer test-secret-canary-wrong-token-00000" },
        ]) {
          answers.push((await get(`${base}${route}`, headers)).text);
        }
      }
      const post = await request(`${base}/v1/credentials/${other.path}/rotate`, {
        method: "POST",
        headers: { authorization: `Bearer ${CANARY.apiToken}`, "content-type": "application/json" },
        body: JSON.stringify({ mode: "now", reason: "canary run" }),
      });
      const accepted = (await post.body.json()) as { rotation_id: string };
      expect(post.statusCode).toBe(202);
      answers.push(JSON.stringify(accepted));
      await served.waitForLog((r) => r.msg === "rotation completed" && r["path"] === eca.path, 30_000);
      await served.waitForLog((r) => r.msg === "rotation completed" && r["path"] === other.path, 30_000);
      answers.push((await get(`${base}/v1/rotations/${accepted.rotation_id}`, read)).text);
      for (const route of ["/", "/metrics", "/v1/credentials"])
        answers.push((await get(`${base}${route}`, read)).text);
    } finally {
      await served.stop("SIGTERM");
    }

    // Every CLI command an operator would run.
    const cli = async (args: string[]) => w.cli(args, env);
    await cli(["scan"]);
    await cli(["scan", "--json"]);
    for (const f of ["table", "json", "csv", "markdown", "html"]) await cli(["report", "--format", f]);
    await cli(["check", "--verbose"]);
    await cli(["rotate", eca.path, "--dry-run"]);
    await cli(["rotate", mcPath, "--dry-run"]);
    await cli(["adopt", other.path]);
    const verify = await cli(["audit", "verify", auditFile]);
    expect(verify.stdout).toMatch(/^ok: \d+ lines, chain intact/);
    await collector.waitFor(1);

    const secrets = [
      ...Object.values(CANARY),
      rotatorToken,
      ...journalSecrets,
      ...(await everySecretUnder(w.prefix)),
      ...(await everySecretUnder(w.statePrefix)),
      eca.oldPair.secret,
      other.oldPair.secret,
      pkg.clientSecret,
      staged,
    ];
    expect(secrets.length).toBeGreaterThan(15);
    const outputs: Record<string, string> = {
      "serve stdout": served.stdout,
      "serve stderr": served.stderr,
      "cli outputs": w.outputs.join("\n"),
      "audit file": readFileSync(auditFile, "utf8"),
      syslog: syslog.join("\n"),
      "audit sink bodies": collector.requests.map((r) => r.rawBody).join("\n"),
      "chat bodies": hooks.requests.map((r) => r.rawBody).join("\n"),
      "http answers": answers.join("\n"),
    };
    // The channels really carried the story (a silent channel would pass any search).
    expect(outputs["audit file"]).toContain("rotation.completed");
    expect(outputs["syslog"]).toContain("rotation.completed");
    expect(outputs["audit sink bodies"]).toContain("rotation.completed");
    expect(outputs["chat bodies"]).toContain(eca.path);
    expect(outputs["serve stdout"]).toContain(`"level":"debug"`);
    expect(outputs["http answers"]).toContain("eca_rotator_rotations_total");
    for (const [where, text] of Object.entries(outputs)) {
      for (const secret of secrets) {
        expect(text.includes(secret), `${where} contains a secret (${secret.slice(0, 6)}…)`).toBe(false);
      }
    }
    writeFileSync(
      path.join(dir, "searched.txt"),
      `${secrets.length} secrets in ${Object.keys(outputs).length} outputs\n`,
    );
  }, 180_000);
});
