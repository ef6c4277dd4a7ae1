// A rotation from the CLI reaches the same audit trail as one from the daemon: the file and the HTTP sink. With
// audit.chain_key, every process that appends (run --once, rotate, the manual tracker, serve) keys its lines with
// the same key, several at once still make one chain, and a process without the key refuses to continue it.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditChainKey, verifyAuditChain } from "../../src/adapters/audit/jsonl-file-audit-sink.ts";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { runCliProcess } from "../support/run-cli.ts";
import { ServeProcess } from "../support/serve-process.ts";
import { freePort } from "../support/vault-backend.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.ts";
import { E2eWorld, MOUNT } from "./e2e-kit.ts";

const CHAIN_KEY = "test-secret-canary-e2e-chain-key-61d0b2f4a9c3e7";
const UNKEYED_WARNING =
  "the audit chain is unkeyed: anyone who can write the file can rewrite it undetected; set audit.chain_key";

/** A world whose audit file is keyed with CHAIN_KEY, read from KV in the run's OpenBao. */
async function keyedWorld(extraYaml: readonly string[] = [], rotationExtra: readonly string[] = []) {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "eca-keyed-audit-")), "audit.jsonl");
  const keyPath = `e2e/${path.basename(path.dirname(file))}/audit`;
  const w = await E2eWorld.create(sim, {
    auditFile: false,
    verifyTimeout: "10s",
    leaseTtl: "60s",
    rotationExtra,
    extraYaml: ["audit:", `  file: ${file}`, `  chain_key: { vault: "${keyPath}#chain_key" }`, ...extraYaml],
  });
  await w.admin.seedKv(MOUNT, keyPath, { chain_key: CHAIN_KEY });
  const lines = () => readFileSync(file, "utf8").split("\n");
  return { w, file, lines };
}

let sim: SalesforceSimulator;
let receiver: WebhookReceiver;
beforeAll(async () => {
  sim = await startSalesforceSimulator();
  receiver = await startWebhookReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await sim?.close();
});

describe("eca-rotator rotate with several audit sinks", () => {
  it("delivers every event to the hash-chained file and the HTTP sink before it exits", async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "eca-cli-audit-")), "audit.jsonl");
    const w = await E2eWorld.create(sim, {
      auditFile: false,
      extraYaml: ["audit:", `  file: ${file}`, "  http: { url: { env: AUDIT_URL }, flush_interval: 5s }"],
    });
    const cred = await w.credential("cli-audited");
    const run = await w.cli(["rotate", cred.path], {
      AUDIT_URL: `${receiver.url}/audit/test-secret-canary-audit`,
    });
    expect(run.code, run.stderr).toBe(0);

    const lines = readFileSync(file, "utf8").split("\n");
    expect(verifyAuditChain(lines)).toMatchObject({ ok: true });
    const fileTypes = lines.filter((l) => l !== "").map((l) => (JSON.parse(l) as { type: string }).type);
    // The batch interval is 5 s, yet the process flushed on exit: nothing was left in its queue.
    const posted = receiver.requests.flatMap(
      (r) => (r.body as { events: Array<{ type: string; path: string }> }).events,
    );
    expect(posted.filter((e) => e.path === cred.path).map((e) => e.type)).toEqual(fileTypes);
    expect(fileTypes.at(-1)).toBe("rotation.completed");
    expect(run.stdout + run.stderr).not.toContain("test-secret-canary-audit");
  }, 60_000);
});

describe("the CLI and serve with audit.chain_key", () => {
  it("run --once in two processes at once, and the manual tracker, append one keyed chain; an unkeyed process refuses to continue it", async () => {
    const { w, file, lines } = await keyedWorld();
    for (let i = 0; i < 6; i++) await w.credential(`k${i}`, { rotate: "now" });
    const manual = `${w.prefix}/erp-password`;
    await w.admin.seedKv(MOUNT, manual, { password: "test-secret-canary-manual-1" }, { provider: "manual" });

    const runs = await Promise.all([w.cli(["run", "--once"]), w.cli(["run", "--once"])]);
    for (const run of runs) expect(run.code, run.stdout + run.stderr).toBe(0);
    await new Promise((r) => setTimeout(r, 20)); // a later created_time than the adopted version
    await w.admin.must("POST", `${MOUNT}/data/${manual}`, {
      data: { password: "test-secret-canary-manual-2" },
    });
    const recorded = await w.cli(["run", "--once"]);
    expect(recorded.stdout).toContain(`recorded: ${manual}: manual rotation (KV version 2)`);

    const all = lines();
    const key = AuditChainKey.of(CHAIN_KEY);
    const result = verifyAuditChain(all, { key });
    expect(result).toMatchObject({ ok: true, authenticated: true });
    expect(result.ok && result.keyed === result.count).toBe(true);
    const events = all.filter((l) => l !== "").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.filter((e) => e["type"] === "rotation.completed")).toHaveLength(6);
    expect(events.filter((e) => e["type"] === "rotation.recorded")).toEqual([
      expect.objectContaining({ path: manual, alg: "hmac-sha256" }),
    ]);

    // The operator's check, through the same config (the key comes from Vault):
    const verify = await w.cli(["audit", "verify", file]);
    expect(verify.stdout).toBe(
      `ok: ${events.length} lines, chain intact; ${events.length} keyed lines authenticated with the key\n`,
    );
    expect(verify.code).toBe(0);

    // A replica whose config lacks the key (a misconfiguration, or someone downgrading on purpose) does not
    // continue the keyed file unkeyed: its rotation goes on, the file sink fails, the file stays as it was.
    const unkeyedConfig = path.join(w.dir, "unkeyed.yaml");
    writeFileSync(unkeyedConfig, readFileSync(w.configFile, "utf8").replace(/^ {2}chain_key: .*\n/m, ""));
    const before = readFileSync(file, "utf8");
    const cred = await w.credential("unkeyed-replica");
    const unkeyed = await runCliProcess(["rotate", cred.path, "--config", unkeyedConfig], {
      VAULT_ADDR: w.vault.addr,
      VAULT_TOKEN: w.vault.token,
    });
    w.outputs.push(unkeyed.stdout, unkeyed.stderr);
    expect(unkeyed.code, unkeyed.stderr).toBe(0);
    expect(unkeyed.stderr).toContain(
      "warning: the file audit sink failed (AUDIT_FAILED); the rotation goes on",
    );
    expect(readFileSync(file, "utf8")).toBe(before);

    w.expectNoLeak([CHAIN_KEY, "test-secret-canary-manual-1", "test-secret-canary-manual-2"]);
    expect(readFileSync(file, "utf8")).not.toContain(CHAIN_KEY);
  }, 120_000);

  it("serve warns when the chain is unkeyed, keys its lines when it is not, and counts the lines it wrote", async () => {
    const listen = async () => ["server:", `  listen: 127.0.0.1:${await freePort()}`];
    const plain = await E2eWorld.create(sim, { extraYaml: await listen() });
    const { w, file, lines } = await keyedWorld(await listen(), ["scan_interval: 1s"]);
    const cred = await w.credential("served", { rotate: "now" });
    const env = (x: E2eWorld) => ({ VAULT_ADDR: x.vault.addr, VAULT_TOKEN: x.vault.token });

    const unkeyed = await ServeProcess.start(["--config", plain.configFile], env(plain));
    try {
      expect(unkeyed.records.find((r) => r.msg === UNKEYED_WARNING)).toMatchObject({ file: plain.auditFile });
    } finally {
      await unkeyed.stop("SIGTERM");
    }

    const daemon = await ServeProcess.start(["--config", w.configFile], env(w));
    let metrics = "";
    try {
      await daemon.waitForLog((r) => r.msg === "rotation completed" && r["path"] === cred.path, 30_000);
      metrics = await (await fetch(`${daemon.url}/metrics`)).text();
    } finally {
      await daemon.stop("SIGTERM");
    }
    expect(daemon.records.some((r) => r.msg === UNKEYED_WARNING)).toBe(false);
    const written = lines().filter((l) => l !== "");
    expect(verifyAuditChain(lines(), { key: AuditChainKey.of(CHAIN_KEY) })).toEqual({
      ok: true,
      count: written.length,
      keyed: written.length,
      authenticated: true,
    });
    // Every line this daemon wrote is counted: the number to compare the file with when its tail is in doubt.
    expect(metrics).toContain(`eca_rotator_audit_events_total{sink="file"} ${written.length}`);
    const everything = [
      unkeyed.stdout,
      unkeyed.stderr,
      daemon.stdout,
      daemon.stderr,
      metrics,
      readFileSync(file, "utf8"),
    ];
    for (const text of everything) expect(text).not.toContain(CHAIN_KEY);
  }, 90_000);
});
