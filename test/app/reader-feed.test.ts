// The reader feed against a real OpenBao dev server of its own, started with a file audit device and a socket
// audit device pointed at the feed's listener (declared in an extra -config file: OpenBao takes audit devices
// only from its config). Real tokens and an AppRole login read real versions; the feed must name each reader with
// the version it got, skip the rotator's own reads, follow the file log's rotation, share through KV so another
// replica sees the same, and keep nothing of the secret it watched being read.
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VaultReaderShards } from "../../src/adapters/vault/vault-reader-shards.ts";
import {
  attachReaderFeed,
  buildRotationStack,
  connectVault,
  startReaderFeed,
  type VaultStack,
} from "../../src/app/compose.ts";
import type { ReaderFeed } from "../../src/app/reader-feed.ts";
import type { Config } from "../../src/config/config-types.ts";
import { loadConfig } from "../../src/config/load-config.ts";
import { shardOf } from "../../src/core/readers/reader-book.ts";
import type { ReaderSeen } from "../../src/core/readers/readers.ts";
import { systemClock } from "../../src/core/time.ts";
import { createLogger } from "../../src/daemon/logger.ts";
import { createDaemonMetrics } from "../../src/daemon/metrics.ts";
import { type DevServer, startDevServer } from "../../src/demo/dev-vault-server.ts";
import { policyText } from "../policies/policy-test-helpers.ts";
import { VaultAdmin } from "../support/vault-admin.ts";
import { findServerBinary, freePort, HOW_TO_GET_VAULT } from "../support/vault-backend.ts";

const CRED = "api-credentials/team-a/crm";
const CANARY = `canary-${randomBytes(12).toString("hex")}`;
const ROOT = "eca-feed-root";

let dir: string;
let server: DevServer;
let root: VaultAdmin;
let vault: VaultStack;
let feedSocket: ReaderFeed; // replica 1: Vault's socket audit device connects to it
let feedFile: ReaderFeed; // replica 2: follows the file audit device's log
const logLines: string[] = [];
const metrics = createDaemonMetrics({ version: "test", connections: [] });
let app1Token: string;
let feedPort: number;

function configFor(readers: string, token: string): Config {
  const yaml = `vault:\n  kv_mount: secret\n  prefixes: [api-credentials]\nreaders:\n${readers}`;
  return loadConfig({
    file: "/config.yaml",
    env: { VAULT_ADDR: server?.addr ?? "http://127.0.0.1:1", VAULT_TOKEN: token },
    readFile: () => yaml,
  });
}

async function eventually<T>(probe: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (ok(v) || Date.now() > deadline) return v;
    await sleep(100);
  }
}

const byLabel = (rs: readonly ReaderSeen[]) =>
  Object.fromEntries(
    rs.map((r) => [r.label, r.version]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
  );

beforeAll(async () => {
  const binary = findServerBinary();
  if (binary === undefined) throw new Error(`no bao or vault binary: ${HOW_TO_GET_VAULT}`);
  dir = await mkdtemp(path.join(tmpdir(), "eca-feed-"));
  const port = await freePort();
  feedPort = port;
  const log = path.join(dir, "audit.log");
  // The socket listener must be up before the server: OpenBao does not start while its socket device cannot connect.
  const socketReaders = `  socket: 127.0.0.1:${port}\n  ignore: [token-backup]\n  share_interval: 1h\n`;
  const started = await startReaderFeed(configFor(socketReaders, "unused"), systemClock);
  if (started === undefined) throw new Error("no feed");
  feedSocket = started;
  const hcl = path.join(dir, "audit.hcl");
  await writeFile(
    hcl,
    `audit "file" "to-file" {\n  options = {\n    file_path = "${log}"\n    mode = "0600"\n  }\n}\n` +
      `audit "socket" "to-feed" {\n  options = {\n    address = "127.0.0.1:${port}"\n    socket_type = "tcp"\n  }\n}\n`,
  );
  server = await startDevServer(binary, ROOT, { extraArgs: [`-config=${hcl}`] });
  root = new VaultAdmin({ addr: server.addr, token: ROOT, backend: "bao", binary });

  await root.writePolicy("eca-rotator", policyText("rotator.hcl"));
  await root.writePolicy("reader", 'path "secret/data/api-credentials/*" { capabilities = ["read"] }');
  const tokenFor = async (name: string, policies: string[]) =>
    (
      (await root.must("POST", "auth/token/create", { policies, display_name: name, ttl: "1h" })) as {
        auth: { client_token: string };
      }
    ).auth.client_token;
  const rotatorToken = await tokenFor("eca-rotator", ["eca-rotator"]);
  app1Token = await tokenFor("app1", ["reader"]);

  const cfg = configFor(socketReaders, rotatorToken);
  vault = await connectVault(cfg);
  const logger = createLogger("debug", { write: (l: string) => logLines.push(l) });
  await attachReaderFeed(feedSocket, vault, { log: logger, metrics });
  const fileFeed = await startReaderFeed(
    configFor(`  file: ${log}\n  ignore: [token-backup]\n  share_interval: 1h\n`, rotatorToken),
    systemClock,
  );
  if (fileFeed === undefined) throw new Error("no feed");
  feedFile = fileFeed;
  await attachReaderFeed(feedFile, vault, { log: logger });
}, 60_000);

afterAll(async () => {
  await feedFile?.stop();
  await feedSocket?.stop();
  await vault?.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the reader feed on OpenBao's audit devices", () => {
  it("names each reader with the version it read, skipping the rotator's own and ignored reads", async () => {
    for (const v of [1, 2, 3])
      await root.seedKv("secret", CRED, { client_id: `id-${v}`, client_secret: `${CANARY}-${v}` });
    const app1 = root.withToken(app1Token);
    expect((await app1.readData("secret", CRED, 1))["client_id"]).toBe("id-1");
    // An AppRole login (an identity entity) reads the current version.
    await root.enableAuth("approle");
    const { roleId, secretId } = await root.createAppRole("billing", { policies: ["reader"] });
    const login = (await root.must("POST", "auth/approle/login", {
      role_id: roleId,
      secret_id: secretId,
    })) as {
      auth: { client_token: string };
    };
    await root.withToken(login.auth.client_token).readData("secret", CRED);
    // A backup job, ignored by name, and the rotator itself (its own KV client) read too.
    const backup = (await root.must("POST", "auth/token/create", {
      policies: ["reader"],
      display_name: "backup",
    })) as { auth: { client_token: string } };
    await root.withToken(backup.auth.client_token).readData("secret", CRED, 2);
    await vault.kv.readData(CRED);
    // A read of metadata or of another mount is not a read of the credential.
    await root.request("GET", `secret/metadata/${CRED}`);

    const want = { "approle (billing)": 3, "token-app1": 1 };
    for (const feed of [feedSocket, feedFile]) {
      const seen = await eventually(
        () => feed.readersOf(CRED, new Date(0)),
        (rs) => rs.length >= 2,
      );
      expect(byLabel(seen)).toEqual(want);
      expect(seen.find((r) => r.label.startsWith("approle"))?.id).toMatch(/^entity:[0-9a-f-]{36}$/);
      expect(seen.find((r) => r.label === "token-app1")?.id).toMatch(/^token:token-app1:[0-9a-f]{64}$/);
      expect(feed.stats.skipped.own_read).toBeGreaterThanOrEqual(1);
      expect(feed.stats.skipped.ignored).toBe(1);
    }
    const text = (await metrics.text()).body;
    expect(text).toMatch(/eca_rotator_reader_events_total\{result="kept",reason="none"\} [2-9]/);
    expect(text).toMatch(/eca_rotator_reader_events_total\{result="skipped",reason="own_read"\} [1-9]/);
    expect(text).toMatch(/eca_rotator_readers_known 2/);
  });

  it("shares through KV under the state prefix, so another replica that saw nothing answers the same", async () => {
    await feedSocket.flush();
    const raw = (await root.must("GET", `secret/data/eca-rotator/readers/${shardOf(CRED)}`)) as {
      data: { data: { format: number; paths: [string, unknown[][]][] } };
    };
    const row = raw.data.data.paths.find((p) => p[0] === CRED);
    expect(row?.[1].map((r) => [r[1], r[2]]).sort()).toEqual([
      ["approle (billing)", 3],
      ["token-app1", 1],
    ]);
    const replica = await startReaderFeed(
      configFor(`  file: ${path.join(dir, "never-written.log")}\n`, "unused"),
      systemClock,
    );
    if (replica === undefined) throw new Error("no feed");
    await attachReaderFeed(replica, vault, { log: createLogger("error", { write: () => {} }) });
    try {
      expect(byLabel(await replica.readersOf(CRED, new Date(0)))).toEqual({
        "approle (billing)": 3,
        "token-app1": 1,
      });
      // `since` filters by the time of the latest read.
      expect(await replica.readersOf(CRED, new Date(Date.now() + 60_000))).toEqual([]);
    } finally {
      await replica.stop();
    }
  });

  it("follows the file log when it is rotated (renamed, and the server reopens a new file on SIGHUP)", async () => {
    const log = path.join(dir, "audit.log");
    await rename(log, `${log}.1`);
    server.process.kill("SIGHUP");
    // Keep reading until the server has reopened its log and the feed has followed it.
    const seen = await eventually(
      async () => {
        await root.withToken(app1Token).readData("secret", CRED, 2);
        return feedFile.readersOf(CRED, new Date(0));
      },
      (rs) => rs.find((r) => r.label === "token-app1")?.version === 2,
    );
    expect(byLabel(seen)["token-app1"]).toBe(2);
    expect((await readFile(log, "utf8")).length).toBeGreaterThan(0);
  });

  it("merges concurrent replicas' writes to one shard (check-and-set), losing neither", async () => {
    const shards = new VaultReaderShards(vault.kv);
    const at = Date.now();
    const one = (id: string) =>
      new Map([["api-credentials/x/y", new Map([[id, { label: id, version: 4, at }]])]]);
    await Promise.all(["r1", "r2", "r3", "r4"].map((id) => shards.merge("ff", one(id), at - 60_000, 256)));
    const back = await shards.read("ff");
    expect([...(back.content.get("api-credentials/x/y")?.keys() ?? [])].sort()).toEqual([
      "r1",
      "r2",
      "r3",
      "r4",
    ]);
  });

  it("survives a local attacker on its socket: hostile lines are counted, and Vault's own still get through", async () => {
    const before = structuredClone(feedSocket.stats);
    const attacker = connect({ host: "127.0.0.1", port: feedPort });
    await new Promise((resolve) => attacker.once("connect", resolve));
    const forged = (over: Record<string, unknown>) =>
      JSON.stringify({
        time: new Date().toISOString(),
        type: "response",
        auth: { accessor: `hmac-sha256:${"0".repeat(64)}`, display_name: "forged" },
        request: { operation: "read", path: `secret/data/${CRED}` },
        response: { data: { metadata: { version: 99 } } },
        ...over,
      });
    attacker.write(
      [
        "not json at all",
        '{"__proto__":{"type":"response"}}',
        forged({ time: "2099-01-01T00:00:00Z" }), // would hold its place for ever
        forged({ request: { operation: "read", path: "secret/data/eca-rotator/connections/prod" } }),
        forged({ request: { operation: "read", path: `secret/data/api-credentials/../eca-rotator/x` } }),
        forged({ auth: { accessor: "plain-accessor", display_name: "forged" } }),
        "",
      ].join("\n"),
    );
    attacker.write(Buffer.alloc(2 * 1024 * 1024, 0x7b)); // 2 MiB without a newline
    attacker.write("\n");
    await eventually(
      async () => feedSocket.stats.malformed.oversized,
      (n) => n > before.malformed.oversized,
    );
    const m = feedSocket.stats.malformed;
    expect(m.not_json - before.malformed.not_json).toBe(1);
    expect(m.bad_shape - before.malformed.bad_shape).toBe(1);
    expect(m.bad_time - before.malformed.bad_time).toBe(1);
    expect(m.bad_path - before.malformed.bad_path).toBe(1);
    expect(m.bad_identity - before.malformed.bad_identity).toBe(1);
    expect(feedSocket.stats.skipped.other_path - before.skipped.other_path).toBeGreaterThanOrEqual(1);
    // The attacker's connection is still open and stalled mid-line; a genuine read still arrives.
    attacker.write('{"half a line');
    await root.withToken(app1Token).readData("secret", CRED, 3);
    const seen = await eventually(
      () => feedSocket.readersOf(CRED, new Date(0)),
      (rs) => rs.find((r) => r.label === "token-app1")?.version === 3,
    );
    expect(seen.find((r) => r.label === "token-app1")?.version).toBe(3);
    // The worst a well-formed forged line can do: name a reader that does not exist.
    attacker.write(`\n${forged({})}\n`);
    await eventually(
      async () => (await feedSocket.readersOf(CRED, new Date(0))).some((r) => r.label === "forged"),
      (found) => found,
    );
    attacker.destroy();
  });

  it("gives a consumer (policies/consumer.hcl) no way to read or write the shared entries", async () => {
    await root.writePolicy("consumer", policyText("consumer.hcl"));
    const consumer = root.withToken(
      (
        (await root.must("POST", "auth/token/create", { policies: ["consumer"] })) as {
          auth: { client_token: string };
        }
      ).auth.client_token,
    );
    const at = `secret/data/eca-rotator/readers/${shardOf(CRED)}`;
    expect((await consumer.request("GET", at)).status).toBe(403);
    expect((await consumer.request("POST", at, { data: { format: 1, paths: [] } })).status).toBe(403);
  });

  it("ends a soak_until=readers soak once every reader has moved: the engine asks the feed", async () => {
    const p = "api-credentials/gen/hook";
    const old = `${CANARY}-generated`;
    await root.seedKv(
      "secret",
      p,
      { current_secret: old, endpoint: "https://hooks.example.com" },
      { provider: "generated", credential_type: "webhook_secret", soak_until: "readers" },
    );
    const app1 = root.withToken(app1Token);
    await app1.readData("secret", p); // a reader on version 1 before the rotation
    await eventually(
      () => feedSocket.readersOf(p, new Date(0)),
      (rs) => rs.length === 1,
    );
    const cfg = loadConfig({
      file: "/config.yaml",
      env: { VAULT_ADDR: server.addr, VAULT_TOKEN: "unused" },
      readFile: () =>
        "vault:\n  kv_mount: secret\n  prefixes: [api-credentials]\nrotation:\n  soak: 0s\n  soak_max: 1h\n" +
        "readers:\n  file: /nonexistent\n",
    });
    const stderr: string[] = [];
    const readers = feedSocket;
    const stack = await buildRotationStack(cfg, vault, { stderr: (l: string) => stderr.push(l), readers });
    try {
      const first = await stack.engine.start(p, {
        mode: "standard",
        trigger: "schedule",
        actor: "scheduler",
      });
      // Published as version 2; token-app1 still reads version 1, so the soak waits (the rotator's own reads of
      // the credential during the rotation are not readers).
      expect(first).toMatchObject({ kind: "waiting", waiting: "readers" });
      expect((first as { detail?: string }).detail).toMatch(/0 of 1 .*token-app1/);
      await app1.readData("secret", p);
      await eventually(
        () => feedSocket.readersOf(p, new Date(0)),
        (rs) => rs[0]?.version === 2,
      );
      const done = await stack.engine.resume(p);
      expect(done).toMatchObject({ kind: "completed" });
      expect((await root.readData("secret", p))["previous_secret"]).toBe("");
    } finally {
      await stack.close();
    }
    expect(stderr.join("\n")).not.toContain(old);
  });

  it("keeps nothing of the secret: not the value, not its HMAC, in what it holds, shares, logs or counts", async () => {
    await feedSocket.flush();
    await feedFile.flush();
    // The audit log holds the HMAC of every value read; none of them may travel on.
    const audit =
      (await readFile(path.join(dir, "audit.log.1"), "utf8")) +
      (await readFile(path.join(dir, "audit.log"), "utf8"));
    const valueHmacs = [...audit.matchAll(/"client_secret":"(hmac-sha256:[0-9a-f]{64})"/g)].map(
      (m) => m[1] ?? "",
    );
    expect(valueHmacs.length).toBeGreaterThan(0);
    expect(audit).not.toContain(CANARY);
    const listing = (await root.must("LIST", "secret/metadata/eca-rotator/readers")) as {
      data: { keys: string[] };
    };
    let shared = "";
    for (const k of listing.data.keys)
      shared += JSON.stringify(await root.must("GET", `secret/data/eca-rotator/readers/${k}`));
    const held = JSON.stringify([
      await feedSocket.readersOf(CRED, new Date(0)),
      await feedFile.readersOf(CRED, new Date(0)),
      feedSocket.stats,
      feedFile.stats,
    ]);
    const everything = [shared, held, logLines.join("\n"), (await metrics.text()).body];
    for (const text of everything) {
      expect(text).not.toContain(CANARY);
      for (const h of valueHmacs) {
        expect(text).not.toContain(h);
        expect(text).not.toContain(h.slice("hmac-sha256:".length));
      }
      expect(text).not.toContain("client_token");
    }
  });
});
