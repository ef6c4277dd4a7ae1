// Promotion by evidence on real processes: an OpenBao dev server of its own with a file audit device, a real
// `eca-rotator serve` following that log (readers.file), the Salesforce simulator, and two consumers with the
// privileges a consumer has: billing-sync logs in with AppRole (an identity entity) and crm-web holds a token,
// both limited by the shipped consumer policy. They read old and new versions when each test says so; a
// soak_until=readers rotation must hold both pairs until the last of them has read the new version, then promote
// at once; at soak_max promote (naming the laggard) or hold (one notice, until rotate=now); and a serve killed
// mid-soak must promote on what the shared entries kept. No secret may reach serve's log, the audit file or chat.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { shardOf } from "../../src/core/readers/reader-book.ts";
import { type DevServer, startDevServer } from "../../src/demo/dev-vault-server.ts";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { MERGE_PATCH, policyText } from "../policies/policy-test-helpers.ts";
import { ServeProcess } from "../support/serve-process.ts";
import { VaultAdmin } from "../support/vault-admin.ts";
import { findServerBinary, freePort, HOW_TO_GET_VAULT, type VaultTarget } from "../support/vault-backend.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.ts";
import { expectRotatedClean } from "./e2e-invariants.ts";
import { CANARY, type Credential, E2eWorld, MOUNT } from "./e2e-kit.ts";

const ROOT = "eca-readers-e2e-root";
const HMAC_KEY = "readers-e2e-hmac-key-0123456789abcdef";

let dir: string;
let server: DevServer;
let vault: VaultTarget;
let root: VaultAdmin;
let sim: SalesforceSimulator;
let hooks: WebhookReceiver;
let rotatorToken: string;
/** Every secret a test made (consumer tokens, the AppRole secret id): none may appear in any output either. */
const secrets: string[] = [];

beforeAll(async () => {
  const binary = findServerBinary();
  if (binary === undefined) throw new Error(`no bao or vault binary: ${HOW_TO_GET_VAULT}`);
  dir = mkdtempSync(path.join(tmpdir(), "eca-readers-e2e-"));
  const hcl = path.join(dir, "audit.hcl");
  writeFileSync(
    hcl,
    `audit "file" "to-file" {\n  options = {\n    file_path = "${path.join(dir, "vault-audit.log")}"\n    mode = "0600"\n  }\n}\n`,
  );
  writeFileSync(path.join(dir, "hmac"), HMAC_KEY);
  server = await startDevServer(binary, ROOT, { extraArgs: [`-config=${hcl}`] });
  vault = { addr: server.addr, token: ROOT, backend: "bao", binary };
  root = new VaultAdmin(vault);
  await root.writePolicy("eca-rotator", policyText("rotator.hcl"));
  rotatorToken = (
    (await root.must("POST", "auth/token/create", {
      policies: ["eca-rotator"],
      display_name: "eca-rotator",
      ttl: "1h",
    })) as { auth: { client_token: string } }
  ).auth.client_token;
  secrets.push(rotatorToken);
  sim = await startSalesforceSimulator();
  hooks = await startWebhookReceiver();
}, 60_000);

afterAll(async () => {
  await hooks?.close();
  await sim?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Reader {
  readonly label: string;
  /** Reads the credential (its current version, or `version`) and returns the version Vault returned. */
  read(version?: number): Promise<number>;
}

/**
 * A world in the shipped layout with one credential, healthy until the test flags it, carrying the given soak
 * metadata and a planted canary; and its two consumers (made from policies/consumer.hcl for the world's folder).
 */
async function readersWorld(
  name: string,
  meta: Record<string, string>,
): Promise<{ w: E2eWorld; cred: Credential; billingSync: Reader; crmWeb: Reader }> {
  const w = await E2eWorld.create(sim, {
    vault,
    layout: "shipped",
    soak: "2s",
    rotationExtra: ["scan_interval: 1s"],
    extraYaml: [
      "readers:",
      `  file: ${path.join(dir, "vault-audit.log")}`,
      "  share_interval: 1s",
      // The test's root token (display name "token") reads KV to check it: like a backup job, it is no consumer.
      "  ignore: [token]",
      "server:",
      `  listen: 127.0.0.1:${await freePort()}`,
      "  shutdown_timeout: 10s",
      "notifications:",
      "  targets:",
      "    chat:",
      "      type: webhook",
      "      url: { env: ECA_TEST_WEBHOOK_URL }",
      `      secret: { file: ${path.join(dir, "hmac")} }`,
      "report:",
      '  schedule: "off"',
    ],
  });
  const now = new Date().toISOString();
  const cred = await w.credential(
    name,
    { soak_until: "readers", last_rotated: now, rotation_verified_at: now, ...meta },
    { note: CANARY },
  );
  const folder = w.prefix.split("/")[1] ?? "";
  const policy = `consumer-${folder}`;
  await root.writePolicy(policy, policyText("consumer.hcl").replaceAll("/payments/", `/${folder}/`));
  const role = `billing-sync-${folder}`.slice(0, 60);
  await root.enableAuth("approle");
  await root.must("POST", `auth/approle/role/${role}`, { token_policies: [policy], token_ttl: "1h" });
  const roleId = (
    (await root.must("GET", `auth/approle/role/${role}/role-id`)) as { data: { role_id: string } }
  ).data.role_id;
  const secretId = await root.newSecretId(role);
  const login = (await root.must("POST", "auth/approle/login", { role_id: roleId, secret_id: secretId })) as {
    auth: { client_token: string };
  };
  const crmWebToken = (
    (await root.must("POST", "auth/token/create", {
      policies: [policy],
      display_name: "crm-web",
      ttl: "1h",
    })) as { auth: { client_token: string } }
  ).auth.client_token;
  secrets.push(secretId, login.auth.client_token, crmWebToken);
  const reader = (label: string, token: string): Reader => ({
    label,
    async read(version) {
      const res = await root
        .withToken(token)
        .request("GET", `${MOUNT}/data/${cred.path}${version === undefined ? "" : `?version=${version}`}`);
      expect(res.status, `${label} reads ${cred.path}`).toBe(200);
      return (res.body as { data: { metadata: { version: number } } }).data.metadata.version;
    },
  });
  return {
    w,
    cred,
    billingSync: reader(`approle (${role})`, login.auth.client_token),
    crmWeb: reader("token-crm-web", crmWebToken),
  };
}

function serve(w: E2eWorld): Promise<ServeProcess> {
  return ServeProcess.start(["--config", w.configFile], {
    VAULT_ADDR: vault.addr,
    VAULT_TOKEN: rotatorToken,
    ECA_TEST_WEBHOOK_URL: `${hooks.url}/hooks/readers`,
  });
}

/** The feed of this serve has kept `n` reads (its metrics), so the readers are known before the rotation starts. */
async function feedHasKept(daemon: ServeProcess, n: number): Promise<void> {
  const re = /eca_rotator_reader_events_total\{result="kept",reason="none"\} (\d+)/;
  for (let i = 0; i < 200; i++) {
    const text = await (await fetch(`${daemon.url}/metrics`)).text();
    if (Number(re.exec(text)?.[1] ?? 0) >= n) return;
    await sleep(100);
  }
  throw new Error(`the feed did not keep ${n} reads`);
}

async function flag(w: E2eWorld, cred: Credential, value = "now"): Promise<void> {
  await w.admin.must(
    "PATCH",
    `${MOUNT}/metadata/${cred.path}`,
    { custom_metadata: { rotate: value } },
    MERGE_PATCH,
  );
}

function waitingFor(daemon: ServeProcess, cred: Credential, detail: string): Promise<unknown> {
  return daemon.waitForLog(
    (r) =>
      r.msg === "rotation waiting" &&
      r["path"] === cred.path &&
      r["waiting"] === "readers" &&
      String(r["detail"]).includes(detail),
    30_000,
  );
}

type AuditEvent = ReturnType<E2eWorld["auditEvents"]>[number];

async function auditEvent(w: E2eWorld, cred: Credential, type: string, ms = 30_000): Promise<AuditEvent> {
  const deadline = Date.now() + ms;
  for (;;) {
    const e = w.auditEvents().find((x) => x.path === cred.path && x.type === type);
    if (e !== undefined) return e;
    if (Date.now() > deadline) throw new Error(`no ${type} for ${cred.path} in the audit file`);
    await sleep(100);
  }
}

/** Chat messages for this credential so far (each webhook body as text). */
function chatFor(cred: Credential): string[] {
  return hooks.requests.map((r) => r.rawBody).filter((b) => b.includes(cred.path));
}

/** The soak in progress: KV's current version is the published one holding both pairs, and both log in. */
async function expectBothPairsLive(w: E2eWorld, cred: Credential, promotionsBefore: number): Promise<void> {
  const kv = await w.entry(cred.path);
  expect(kv?.version).toBe(2);
  expect(kv?.data["previous_client_id"]).toBe(cred.oldPair.key);
  expect(kv?.data["previous_key"]).toBe(cred.oldPair.secret);
  expect(kv?.data["client_id"]).not.toBe(cred.oldPair.key);
  expect(kv?.meta["rotation_state"]).toBe("awaiting_promotion");
  const valid = sim.validPairs(cred.app.appId, cred.app.consumerId).map((p) => p.key);
  expect(valid.sort()).toEqual([cred.oldPair.key, String(kv?.data["client_id"])].sort());
  // The staged set is still staged: Salesforce's main pair is the old one, nothing was promoted.
  expect(sim.primaryPair(cred.app.appId, cred.app.consumerId).key).toBe(cred.oldPair.key);
  expect(sim.counters().promotions).toBe(promotionsBefore);
}

/**
 * Both consumers read v1 and the feed has kept it; then rotate=now, and once the rotation waits for its readers,
 * billing-sync reads the published v2. Returns the versions of the two first reads.
 */
async function publishWithBothOnV1(
  daemon: ServeProcess,
  w: E2eWorld,
  cred: Credential,
  readers: {
    readonly billingSync: { read(): Promise<number> };
    readonly crmWeb: { read(): Promise<number> };
  },
): Promise<readonly [number, number]> {
  const first = [await readers.billingSync.read(), await readers.crmWeb.read()] as const;
  await feedHasKept(daemon, 2);
  await flag(w, cred);
  await daemon.waitForLog((r) => r.msg === "rotation waiting" && r["path"] === cred.path, 30_000);
  expect(await readers.billingSync.read()).toBe(2);
  return first;
}

/** No secret in serve's output, the audit file or chat. */
function expectNoLeak(w: E2eWorld, cred: Credential, daemons: readonly ServeProcess[]): void {
  w.outputs.push(...daemons.flatMap((d) => [d.stdout, d.stderr]), ...hooks.requests.map((r) => r.rawBody));
  const main = sim.primaryPair(cred.app.appId, cred.app.consumerId);
  w.expectNoLeak([CANARY, cred.oldPair.secret, main.secret, sim.adminApp.consumerSecret, ...secrets]);
}

describe("serve with a reader feed: a soak_until=readers rotation", () => {
  it("holds both pairs until the last reader reads the new version, then promotes right after", async () => {
    const { w, cred, billingSync, crmWeb } = await readersWorld("waits", { soak_max: "5m" });
    const before = sim.counters().promotions;
    const daemon = await serve(w);
    try {
      expect(await publishWithBothOnV1(daemon, w, cred, { billingSync, crmWeb })).toEqual([1, 1]);
      await waitingFor(daemon, cred, "1 of 2 moved; waiting for token-crm-web, last read v1");

      // While crm-web lags (and when it reads the old version again on purpose) nothing is promoted.
      for (let i = 0; i < 6; i++) {
        await expectBothPairsLive(w, cred, before);
        if (i === 2) expect(await crmWeb.read(1)).toBe(1);
        await sleep(500);
      }
      expect(daemon.records.some((r) => r.msg === "rotation completed")).toBe(false);

      const movedAt = Date.now();
      expect(await crmWeb.read()).toBe(2);
      const promoted = await auditEvent(w, cred, "rotation.promoted");
      // Woken by the read at the next scan (1 s), not at the soak's next minute.
      expect(Date.parse(String(promoted["time"])) - movedAt).toBeLessThan(15_000);
      expect(promoted["evidence"]).toMatchObject({
        decision: "all-moved",
        publishedVersion: 2,
        movedCount: 2,
        laggingCount: 0,
      });
      const labels = (promoted["evidence"] as { moved: { label: string }[] }).moved.map((m) => m.label);
      expect(labels.sort()).toEqual([billingSync.label, crmWeb.label].sort());
      await daemon.waitForLog((r) => r.msg === "rotation completed" && r["path"] === cred.path, 30_000);
      expect((await daemon.stop()).code).toBe(0);
      await expectRotatedClean(w, cred, before);
      expect(chatFor(cred).join("\n")).toContain("2 of 2 readers on the new pair (v2)");
      expectNoLeak(w, cred, [daemon]);
    } finally {
      daemon.child.kill("SIGKILL");
    }
  }, 120_000);

  it("at soak_max with on_soak_max=promote: promotes without the laggard and names it in chat and audit", async () => {
    const { w, cred, billingSync, crmWeb } = await readersWorld("soak-max", {
      soak_max: "5s",
      on_soak_max: "promote",
    });
    const before = sim.counters().promotions;
    const daemon = await serve(w);
    try {
      await publishWithBothOnV1(daemon, w, cred, { billingSync, crmWeb });
      const promoted = await auditEvent(w, cred, "rotation.promoted");
      const published = await auditEvent(w, cred, "rotation.published");
      // Not before soak_max (5 s after publication).
      expect(
        Date.parse(String(promoted["time"])) - Date.parse(String(published["time"])),
      ).toBeGreaterThanOrEqual(5_000);
      expect(promoted["evidence"]).toMatchObject({
        decision: "soak-max",
        movedCount: 1,
        laggingCount: 1,
        lagging: [expect.objectContaining({ label: "token-crm-web", version: 1 })],
      });
      await daemon.waitForLog((r) => r.msg === "rotation completed" && r["path"] === cred.path, 30_000);
      const notice = chatFor(cred).find((b) => b.includes("rotation.action_needed"));
      expect(notice).toContain("promoted at soak_max without token-crm-web, last read v1");
      expect((await daemon.stop()).code).toBe(0);
      await expectRotatedClean(w, cred, before);
      expectNoLeak(w, cred, [daemon]);
    } finally {
      daemon.child.kill("SIGKILL");
    }
  }, 120_000);

  it("at soak_max with on_soak_max=hold: does not promote, says so once, and rotate=now promotes", async () => {
    const { w, cred, billingSync, crmWeb } = await readersWorld("hold", {
      soak_max: "4s",
      on_soak_max: "hold",
    });
    const before = sim.counters().promotions;
    const daemon = await serve(w);
    try {
      await publishWithBothOnV1(daemon, w, cred, { billingSync, crmWeb });
      const held = await auditEvent(w, cred, "rotation.held");
      expect(held["evidence"]).toMatchObject({
        decision: "soak-max",
        lagging: [expect.objectContaining({ label: "token-crm-web" })],
      });
      // billing-sync keeps reading: each read wakes the soak at the next scan, and each look must stay quiet.
      for (let i = 0; i < 8; i++) {
        await billingSync.read();
        await sleep(500);
      }
      await expectBothPairsLive(w, cred, before);
      expect(w.auditEvents().filter((e) => e.path === cred.path && e.type === "rotation.held")).toHaveLength(
        1,
      );
      const notices = chatFor(cred).filter((b) => b.includes("rotation.action_needed"));
      expect(notices).toHaveLength(1);
      expect(notices[0]).toContain("held at soak_max (on_soak_max=hold)");
      expect(notices[0]).toContain("token-crm-web");

      await flag(w, cred);
      const promoted = await auditEvent(w, cred, "rotation.promoted");
      expect((promoted["evidence"] as { decision: string }).decision).toBe("operator");
      await daemon.waitForLog((r) => r.msg === "rotation completed" && r["path"] === cred.path, 30_000);
      expect((await daemon.stop()).code).toBe(0);
      await expectRotatedClean(w, cred, before);
      expectNoLeak(w, cred, [daemon]);
    } finally {
      daemon.child.kill("SIGKILL");
    }
  }, 120_000);

  it("promotes on the shared evidence after serve is killed mid-soak and started again", async () => {
    const { w, cred, billingSync, crmWeb } = await readersWorld("restart", { soak_max: "5m" });
    const before = sim.counters().promotions;
    const first = await serve(w);
    let second: ServeProcess | undefined;
    try {
      await publishWithBothOnV1(first, w, cred, { billingSync, crmWeb });
      await waitingFor(first, cred, "1 of 2 moved; waiting for token-crm-web");
      // The shared entry holds billing-sync's move (share_interval 1 s) before the process dies without a goodbye.
      const shard = `${MOUNT}/data/${w.statePrefix}/readers/${shardOf(cred.path)}`;
      for (let i = 0; ; i++) {
        const res = await root.request("GET", shard);
        const paths = (res.body as { data?: { data?: { paths?: [string, unknown[][]][] } } }).data?.data
          ?.paths;
        const row = paths?.find((p) => p[0] === cred.path)?.[1] ?? [];
        if (row.some((r) => r[1] === billingSync.label && r[2] === 2)) break;
        if (i > 100) throw new Error(`billing-sync's read never reached ${shard}`);
        await sleep(100);
      }
      await first.stop("SIGKILL");
      await expectBothPairsLive(w, cred, before);

      second = await serve(w);
      // The new process follows the log from its end: billing-sync's move is known only from the shared entry.
      await waitingFor(second, cred, "1 of 2 moved; waiting for token-crm-web");
      expect(await crmWeb.read()).toBe(2);
      const promoted = await auditEvent(w, cred, "rotation.promoted");
      expect(promoted["evidence"]).toMatchObject({ decision: "all-moved", movedCount: 2, laggingCount: 0 });
      await second.waitForLog((r) => r.msg === "rotation completed" && r["path"] === cred.path, 30_000);
      expect((await second.stop()).code).toBe(0);
      await expectRotatedClean(w, cred, before);
      expectNoLeak(w, cred, [first, second]);
    } finally {
      first.child.kill("SIGKILL");
      second?.child.kill("SIGKILL");
    }
  }, 120_000);
});
