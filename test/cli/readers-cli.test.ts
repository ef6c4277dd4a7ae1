// The CLI reads the reader evidence serve's replicas share: shard entries written by the real ReaderFeed (fed
// audit lines as Vault's audit device writes them, flushed through VaultReaderShards into a real OpenBao), then
// `scan --json` and `report` as a user runs them show who read what. And a scan of many credentials reads the
// shared entries once, not once per credential (every Vault call counted on the wire).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvV2, VaultMetadataSource } from "../../src/adapters/vault/kv-v2.ts";
import { VaultReaderShards } from "../../src/adapters/vault/vault-reader-shards.ts";
import { ReaderFeed } from "../../src/app/reader-feed.ts";
import { DEFAULT_CLASSIFY_DEFAULTS } from "../../src/core/inventory/classify.ts";
import { collectInventory, withReaders } from "../../src/core/inventory/collect-inventory.ts";
import { systemClock } from "../../src/core/time.ts";
import { connectWithToken, recordingTransport } from "../adapters/vault/vault-test-kit.ts";
import { runCliProcess } from "../support/run-cli.ts";
import { shareReads } from "../support/shared-reads.ts";
import { admin, uniqueName, useVault } from "../support/vault-admin.ts";

const WINDOW = 7 * 86_400_000;
const base = uniqueName("readers-cli");
const PREFIX = `${base}/creds`;
const STATE = `${base}/state`;
const CRM = `${PREFIX}/crm`;
const QUIET = `${PREFIX}/quiet`;
const MANY = 120;
const CANARY = "test-secret-canary-readers-cli";

let env: Record<string, string> = {};
let configFile = "";

beforeAll(async () => {
  const vault = useVault();
  const a = admin();
  // crm: two versions, declared consumers billing-sync and crm-web.
  await a.seedKv("secret", CRM, { api_key: CANARY });
  await a.seedKv(
    "secret",
    CRM,
    { api_key: `${CANARY}-2` },
    {
      provider: "manual",
      rotation_period: "90d",
      consumers: "billing-sync, crm-web",
    },
  );
  await a.seedKv("secret", QUIET, { api_key: CANARY }, { provider: "manual", rotation_period: "90d" });
  for (let i = 0; i < MANY; i++) {
    await a.seedKv(
      "secret",
      `${PREFIX}/many/c${i}`,
      { api_key: CANARY },
      { provider: "manual", rotation_period: "90d" },
    );
  }

  // What a serve replica shares: its feed saw these reads and flushed them into the shard entries.
  const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000);
  const kept = await shareReads(vault, { statePrefix: STATE, prefixes: [PREFIX] }, [
    { path: CRM, version: 2, name: "approle", role: "billing-sync", entity: "e-billing", at: hoursAgo(1) },
    { path: CRM, version: 1, name: "token-report-job", at: hoursAgo(2) },
    ...Array.from({ length: 20 }, (_, i) => ({
      path: `${PREFIX}/many/c${i}`,
      version: 1,
      name: "token-batch",
      at: hoursAgo(3),
    })),
  ]);
  expect(kept).toBe(22);

  const dir = mkdtempSync(path.join(tmpdir(), "eca-readers-cli-"));
  configFile = path.join(dir, "config.yaml");
  writeFileSync(
    configFile,
    `vault:\n  kv_mount: secret\n  prefixes: [${PREFIX}]\n  state_prefix: ${STATE}\n` +
      `readers:\n  file: ${path.join(dir, "audit.log")}\n  window: 7d\n`,
  );
  env = { VAULT_ADDR: vault.addr, VAULT_TOKEN: vault.token };
}, 120_000);

describe("the CLI shows the readers serve shared", () => {
  it("scan --json lists each credential's readers, the version each read and whether it is current", async () => {
    const res = await runCliProcess(["scan", "--json", "--config", configFile], env);
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    const items = (
      JSON.parse(res.stdout) as { items: { path: string; current_version: number; readers: unknown }[] }
    ).items;
    const crm = items.find((i) => i.path === CRM);
    expect(crm?.current_version).toBe(2);
    expect(crm?.readers).toMatchObject({
      total: 2,
      on_current: 1,
      listed: [
        { label: "token-report-job", version: 1, current: false, declared: false },
        { label: "approle (billing-sync)", version: 2, current: true, declared: true },
      ],
      unseen_consumers: ["crm-web"],
    });
    expect(items.find((i) => i.path === QUIET)?.readers).toMatchObject({ total: 0 });
    expect(res.stdout).not.toContain(CANARY);

    const table = await runCliProcess(["scan", "--config", configFile], env);
    expect(table.stdout.split("\n")[0]).toContain("READERS");
    expect(table.stdout.split("\n").find((l) => l.startsWith(CRM))).toContain("1/2 current");
  });

  it("report lists no reader, readers on an old version, and readers beside the declared consumers", async () => {
    const res = await runCliProcess(["report", "--format", "markdown", "--config", configFile], env);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("## Readers: no reader in the window");
    expect(res.stdout).toMatch(/\| [^|]*quiet \| no consumer declared \|/);
    expect(res.stdout).toContain("## Readers: still on an old version (1)");
    expect(res.stdout).toMatch(/crm \| current v2; token-report-job \(v1, 2h ago\) \|/);
    expect(res.stdout).toContain("declared, never seen: crm-web");
    const json = await runCliProcess(["report", "--format", "json", "--config", configFile], env);
    const report = JSON.parse(json.stdout) as { readers: { lagging: { path: string }[] } };
    expect(report.readers.lagging.map((l) => l.path)).toEqual([CRM]);
  });
});

describe("a token that may not read the reader entries", () => {
  it("scans without readers (null, not none) and says why in one warning line", async () => {
    const a = admin();
    const policy = uniqueName("scan-only");
    await a.writePolicy(
      policy,
      `path "secret/metadata/${PREFIX}/*" { capabilities = ["list", "read"] }\n` +
        `path "secret/detailed-metadata/${PREFIX}/*" { capabilities = ["list"] }\n`,
    );
    const token = await a.createToken({ policies: [policy] });
    const res = await runCliProcess(["scan", "--json", "--config", configFile], {
      ...env,
      VAULT_TOKEN: token,
    });
    expect(res.code).toBe(0);
    expect(res.stderr.trim().split("\n")).toEqual([
      "warning: the shared reader entries could not be read (VAULT_PERMISSION_DENIED); readers are not shown",
    ]);
    const items = (JSON.parse(res.stdout) as { items: { readers: unknown }[] }).items;
    expect(items.length).toBe(MANY + 2);
    expect(items.every((i) => i.readers === null)).toBe(true);
  });
});

describe("the cost of readers in a scan", () => {
  const rec = recordingTransport();
  afterAll(() => rec.close());

  it("reads the shared entries once per scan: one LIST and each existing shard once, whatever the count", async () => {
    const client = await connectWithToken(useVault().token, { transport: rec.transport });
    try {
      const kv = new KvV2(client, "secret", { statePrefix: STATE });
      const feed = new ReaderFeed({
        kvMount: "secret",
        prefixes: [PREFIX],
        namespace: undefined,
        ignore: [],
        clock: systemClock,
        windowMs: WINDOW,
        shareIntervalMs: 3_600_000,
      });
      feed.attach({ ownEntityId: undefined, ownDisplayName: undefined, shards: new VaultReaderShards(kv) });
      const source = new VaultMetadataSource(kv, { listing: "auto", concurrency: 4 });
      const now = new Date();
      const { items } = await collectInventory(source, [PREFIX], now, DEFAULT_CLASSIFY_DEFAULTS);
      rec.calls.length = 0;
      const out = await withReaders(items, feed, now, WINDOW);
      await feed.stop();
      expect(out).toHaveLength(MANY + 2);
      expect(out.filter((i) => (i.readers?.total ?? 0) > 0)).toHaveLength(21);
      const shardCalls = rec.calls.filter((c) => c.includes(`/${STATE}/readers`));
      expect(rec.calls).toEqual(shardCalls);
      const reads = shardCalls.filter((c) => c.startsWith("GET "));
      expect(shardCalls.filter((c) => c.startsWith("LIST ") || c.includes("list"))).toHaveLength(1);
      expect(new Set(reads).size).toBe(reads.length);
      // 22 reads of 21 paths land in at most 21 shards: far fewer calls than credentials.
      expect(reads.length).toBeLessThanOrEqual(21);
    } finally {
      await client.close();
    }
  });
});
