// `eca-rotator serve` with a reader feed, as real processes in the order a cold start brings them up: serve first
// (its listener opens at once, then it waits for Vault), then OpenBao with a socket audit device pointed at it
// (OpenBao refuses to start while that device cannot connect). A policy-limited token's read then shows in
// /metrics and, after share_interval, in the shared entry under the state prefix; the secret does not.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { shardOf } from "../../src/core/readers/reader-book.ts";
import { type DevServer, startDevServer } from "../../src/demo/dev-vault-server.ts";
import { ServeProcess } from "../support/serve-process.ts";
import { VaultAdmin } from "../support/vault-admin.ts";
import { findServerBinary, freePort, HOW_TO_GET_VAULT } from "../support/vault-backend.ts";

const ROOT = "eca-feed-e2e-root";
const CRED = "api-credentials/feed/app";
const CANARY = `canary-${randomBytes(12).toString("hex")}`;

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

async function listening(port: number, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: "127.0.0.1", port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await sleep(50);
  }
}

describe("serve with readers.socket", () => {
  it("listens before Vault is up, waits for it, and counts and shares a consumer's read", async () => {
    const binary = findServerBinary();
    if (binary === undefined) throw new Error(`no bao or vault binary: ${HOW_TO_GET_VAULT}`);
    const dir = await mkdtemp(path.join(tmpdir(), "eca-feed-e2e-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const [vaultPort, feedPort, httpPort] = [await freePort(), await freePort(), await freePort()];
    const config = path.join(dir, "config.yaml");
    await writeFile(
      config,
      [
        "vault:",
        `  address: http://127.0.0.1:${vaultPort}`,
        "  max_retries: 0 # so the first connect fails at once and serve must wait",
        "  kv_mount: secret",
        "  prefixes: [api-credentials]",
        "server:",
        `  listen: 127.0.0.1:${httpPort}`,
        "readers:",
        `  socket: 127.0.0.1:${feedPort}`,
        "  share_interval: 1s",
        "report:",
        '  schedule: "off"',
        "",
      ].join("\n"),
    );
    const serving = ServeProcess.start(["--config", config], { VAULT_TOKEN: ROOT }, 60_000);
    serving.catch(() => {});
    await listening(feedPort);

    const hcl = path.join(dir, "audit.hcl");
    await writeFile(
      hcl,
      `audit "socket" "eca-rotator" {\n  options = {\n    address = "127.0.0.1:${feedPort}"\n    socket_type = "tcp"\n  }\n}\n`,
    );
    const server: DevServer = await startDevServer(binary, ROOT, {
      extraArgs: [`-config=${hcl}`],
      port: vaultPort,
    });
    cleanups.push(() => server.stop());
    const serve = await serving;
    cleanups.push(() => serve.stop());
    expect(serve.records.some((r) => r.msg?.startsWith("waiting for Vault"))).toBe(true);

    const root = new VaultAdmin({ addr: server.addr, token: ROOT, backend: "bao", binary });
    await root.writePolicy("reader", 'path "secret/data/api-credentials/*" { capabilities = ["read"] }');
    for (const v of [1, 2]) await root.seedKv("secret", CRED, { client_secret: `${CANARY}-${v}` });
    const token = (
      (await root.must("POST", "auth/token/create", { policies: ["reader"], display_name: "billing" })) as {
        auth: { client_token: string };
      }
    ).auth.client_token;
    await root.withToken(token).readData("secret", CRED, 1);

    const metricsOf = async () => (await fetch(`${serve.url}/metrics`)).text();
    let metrics = "";
    for (let i = 0; i < 100 && !/reader_events_total\{result="kept",reason="none"\} 1\b/.test(metrics); i++) {
      await sleep(100);
      metrics = await metricsOf();
    }
    expect(metrics).toMatch(/eca_rotator_reader_events_total\{result="kept",reason="none"\} 1\b/);
    expect(metrics).toMatch(/eca_rotator_readers_known 1\b/);

    let shard: { status: number; body: unknown } = { status: 0, body: undefined };
    for (let i = 0; i < 100 && shard.status !== 200; i++) {
      await sleep(100);
      shard = await root.request("GET", `secret/data/eca-rotator/readers/${shardOf(CRED)}`);
    }
    const paths = (shard.body as { data: { data: { paths: [string, unknown[][]][] } } }).data.data.paths;
    expect(paths.find((p) => p[0] === CRED)?.[1].map((r) => [r[1], r[2]])).toEqual([["token-billing", 1]]);

    const stopped = await serve.stop();
    expect(stopped.code).toBe(0);
    for (const text of [serve.stdout, serve.stderr, metrics, JSON.stringify(shard.body)]) {
      expect(text).not.toContain(CANARY);
    }
  });
});
