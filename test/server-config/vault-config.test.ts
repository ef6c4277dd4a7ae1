// Starts the real server from the repository's vault-config.hcl, changing only what must differ on a test
// machine (storage folder, ports, certificate paths), then initialises, unseals and uses it over TLS.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Agent, fetch } from "undici";
import { afterAll, describe, expect, it } from "vitest";
import { selfSignedCert } from "../support/system-tools.ts";
import { useVault } from "../support/vault-admin.ts";
import { findServerBinary, freePort, stopProcess } from "../support/vault-backend.ts";

const CONFIG_FILE = path.resolve(import.meta.dirname, "../../vault-config.hcl");

interface Rewrite {
  readonly dataDir: string;
  readonly apiPort: number;
  readonly clusterPort: number;
  readonly certFile: string;
  readonly keyFile: string;
}

/** Replaces exactly one match of `pattern` (which must not be global); fails loudly when the file changed shape. */
function replaceOnce(text: string, pattern: RegExp, replacement: string, what: string): string {
  const matches = text.match(new RegExp(pattern.source, `${pattern.flags}g`)) ?? [];
  expect(matches.length, `vault-config.hcl should have exactly one ${what} line`).toBe(1);
  return text.replace(pattern, replacement);
}

function rewriteConfig(text: string, r: Rewrite): string {
  let out = text;
  out = replaceOnce(
    out,
    /(storage "raft" \{[^}]*?\n\s*path\s*=\s*)"[^"]*"/,
    `$1"${r.dataDir}"`,
    "raft storage path",
  );
  out = replaceOnce(
    out,
    /^api_addr(\s*)=\s*"[^"]*"/m,
    `api_addr$1= "https://127.0.0.1:${r.apiPort}"`,
    "api_addr",
  );
  out = replaceOnce(
    out,
    /^cluster_addr(\s*)=\s*"[^"]*"/m,
    `cluster_addr$1= "https://127.0.0.1:${r.clusterPort}"`,
    "cluster_addr",
  );
  out = replaceOnce(out, /^(\s+address\s*=\s*)"[^"]*"/m, `$1"127.0.0.1:${r.apiPort}"`, "listener address");
  out = replaceOnce(
    out,
    /^(\s+cluster_address\s*=\s*)"[^"]*"/m,
    `$1"127.0.0.1:${r.clusterPort}"`,
    "listener cluster_address",
  );
  out = replaceOnce(out, /^(\s+tls_cert_file\s*=\s*)"[^"]*"/m, `$1"${r.certFile}"`, "tls_cert_file");
  out = replaceOnce(out, /^(\s+tls_key_file\s*=\s*)"[^"]*"/m, `$1"${r.keyFile}"`, "tls_key_file");
  return out;
}

describe("vault-config.hcl", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "eca-vault-config-"));
  let server: ChildProcess | undefined;
  let serverLog = "";

  afterAll(async () => {
    if (server) await stopProcess(server);
    rmSync(dir, { recursive: true, force: true });
  });

  it("changes nothing but storage, addresses and certificate paths when rewritten for a test", () => {
    const original = readFileSync(CONFIG_FILE, "utf8");
    const rewritten = rewriteConfig(original, {
      dataDir: "/d",
      apiPort: 1,
      clusterPort: 2,
      certFile: "/c",
      keyFile: "/k",
    });
    const before = original.split("\n");
    const after = rewritten.split("\n");
    expect(after.length).toBe(before.length);
    expect(after.filter((line, i) => line !== before[i]).length).toBe(7);
    for (const kept of [
      "disable_mlock = true",
      'tls_min_version = "tls12"',
      "unauthenticated_metrics_access = true",
      'prometheus_retention_time = "30s"',
      "ui = true",
    ]) {
      expect(rewritten).toContain(kept);
    }
  });

  it("starts the real server with TLS, initialises, unseals, and writes and reads a KV v2 entry", {
    timeout: 90_000,
  }, async () => {
    const binary = useVault().binary ?? findServerBinary();
    if (binary === undefined)
      throw new Error("this test starts its own server: put bao or vault on PATH (./test.sh installs bao)");

    const { certFile, keyFile } = selfSignedCert(dir, "server", "/CN=127.0.0.1", "IP:127.0.0.1");
    const [apiPort, clusterPort] = [await freePort(), await freePort()];
    const configPath = path.join(dir, "server.hcl");
    const dataDir = path.join(dir, "raft");
    mkdirSync(dataDir);
    writeFileSync(
      configPath,
      rewriteConfig(readFileSync(CONFIG_FILE, "utf8"), { dataDir, apiPort, clusterPort, certFile, keyFile }),
    );

    server = spawn(binary, ["server", `-config=${configPath}`], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, BAO_LOG_LEVEL: "info" },
    });
    const capture = (chunk: Buffer) => {
      serverLog = (serverLog + chunk.toString()).slice(-20_000);
    };
    server.stdout?.on("data", capture);
    server.stderr?.on("data", capture);

    // Talk TLS with the self-signed certificate as the only trusted CA: no verification shortcuts.
    const dispatcher = new Agent({ connect: { ca: readFileSync(certFile, "utf8") } });
    const addr = `https://127.0.0.1:${apiPort}/v1`;
    const call = async (method: string, apiPath: string, body?: unknown, token?: string) => {
      const res = await fetch(`${addr}/${apiPath}`, {
        method,
        dispatcher,
        headers: {
          ...(token ? { "X-Vault-Token": token } : {}),
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      let json: Record<string, unknown> = {};
      try {
        json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        // not JSON (the Prometheus text format)
      }
      return { status: res.status, text, json };
    };
    const until = async <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> => {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        if (server?.exitCode !== null)
          throw new Error(`the server exited while waiting for ${what}:\n${serverLog}`);
        const value = await probe().catch(() => undefined);
        if (value !== undefined) return value;
        await sleep(200);
      }
      throw new Error(`timed out waiting for ${what}:\n${serverLog}`);
    };

    const health = await until("the TLS listener", async () => (await call("GET", "sys/health")).json);
    expect(health).toMatchObject({ initialized: false, sealed: true });

    const init = await call("PUT", "sys/init", { secret_shares: 1, secret_threshold: 1 });
    expect(init.status, init.text).toBe(200);
    const { keys_base64: keys, root_token: rootToken } = init.json as {
      keys_base64: string[];
      root_token: string;
    };
    const unseal = await call("PUT", "sys/unseal", { key: keys[0] });
    expect(unseal.json).toMatchObject({ sealed: false });
    // Raft elects this single node leader shortly after unsealing; health is 200 once it is active.
    await until("an active, unsealed node", async () =>
      (await call("GET", "sys/health")).status === 200 ? true : undefined,
    );

    const mount = await call(
      "POST",
      "sys/mounts/secret",
      { type: "kv", options: { version: "2" } },
      rootToken,
    );
    expect(mount.status, mount.text).toBe(204);
    await until("the first KV v2 write", async () => {
      const res = await call(
        "POST",
        "secret/data/api-credentials/example",
        { data: { api_key: "test-secret-value" } },
        rootToken,
      );
      return res.status === 200 ? true : undefined;
    });
    const read = await call("GET", "secret/data/api-credentials/example", undefined, rootToken);
    expect(read.json).toMatchObject({
      data: { data: { api_key: "test-secret-value" }, metadata: { version: 1 } },
    });

    // Telemetry: Prometheus metrics without a token, as the listener's telemetry stanza allows.
    const metrics = await call("GET", "sys/metrics?format=prometheus");
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain("# TYPE");

    // Every stanza was understood, apart from disable_mlock on OpenBao releases that dropped mlock.
    const unknown = serverLog
      .split("\n")
      .filter((l) => /unknown or unsupported field/.test(l) && !/disable_mlock/.test(l));
    expect(unknown).toEqual([]);
    await dispatcher.close();
  });
});
