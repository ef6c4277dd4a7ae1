import { type ChildProcess, spawn } from "node:child_process";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvV2 } from "../../../src/adapters/vault/kv-v2.ts";
import { VaultClient } from "../../../src/adapters/vault/vault-client.ts";
import { RotatorError } from "../../../src/core/errors.ts";
import { startFloodServer } from "../../support/flood-server.ts";
import { admin, uniqueName, useVault } from "../../support/vault-admin.ts";
import { freePort, stopProcess } from "../../support/vault-backend.ts";
import {
  caught,
  connectWithToken,
  recordingLog,
  recordingTransport,
  rootClient,
  tokenAuth,
} from "./vault-test-kit.ts";

describe("VaultClient against the real server", () => {
  const a = admin();

  it("reports health, looks up its own token and reads mount info", async () => {
    const client = await rootClient();
    try {
      const health = await client.health();
      expect(health).toMatchObject({ initialized: true, sealed: false, standby: false });
      expect(health.version).toMatch(/^\d+\.\d+/);
      const self = await client.lookupSelf();
      expect(self.policies).toContain("root");
      expect(self.ttlSeconds).toBe(0);
      expect(await client.mountInfo("secret")).toEqual({ type: "kv", version: "2", path: "secret/" });
    } finally {
      await client.close();
    }
  });

  it("reads a KV v2 mount's settings, including delete_version_after", async () => {
    const mount = uniqueName("kvcfg");
    await a.mountKv(mount);
    await a.must("POST", `${mount}/config`, { delete_version_after: "1h" });
    const client = await rootClient();
    try {
      expect(await client.kvConfig(mount)).toMatchObject({ deleteVersionAfter: "1h0m0s" });
      expect(await client.kvConfig("secret")).toMatchObject({ deleteVersionAfter: "0s" });
    } finally {
      await client.close();
    }
  });

  it("measures this host's clock against the server's Date header", async () => {
    const inStep = await rootClient();
    const ahead = await rootClient({ clock: { now: () => new Date(Date.now() + 5 * 60_000) } });
    try {
      const near = await inStep.clockOffset();
      expect(near).toBeDefined();
      expect(Math.abs(near?.offsetMs ?? Number.NaN)).toBeLessThanOrEqual((near?.uncertaintyMs ?? 0) + 1000);
      const far = await ahead.clockOffset();
      // Five minutes ahead: the server's clock is about 300 s behind ours.
      expect(Math.abs((far?.offsetMs ?? 0) + 300_000)).toBeLessThanOrEqual((far?.uncertaintyMs ?? 0) + 1000);
    } finally {
      await inStep.close();
      await ahead.close();
    }
  });

  it("lists the capabilities a token has on each path", async () => {
    const policy = uniqueName("caps");
    const prefix = uniqueName("caps-prefix");
    await a.writePolicy(
      policy,
      `path "secret/metadata/${prefix}/*" { capabilities = ["list", "read", "patch"] }
       path "secret/data/${prefix}/*" { capabilities = ["read"] }`,
    );
    const client = await connectWithToken(await a.createToken({ policies: [policy] }));
    try {
      const caps = await client.capabilitiesSelf([
        `secret/metadata/${prefix}/x`,
        `secret/data/${prefix}/x`,
        "secret/data/other",
      ]);
      expect(caps[`secret/metadata/${prefix}/x`]?.sort()).toEqual(["list", "patch", "read"]);
      expect(caps[`secret/data/${prefix}/x`]).toEqual(["read"]);
      expect(caps["secret/data/other"]).toEqual(["deny"]);
      expect(await client.capabilitiesSelf([`secret/data/${prefix}/y`])).toEqual({
        [`secret/data/${prefix}/y`]: ["read"],
      });
    } finally {
      await client.close();
    }
  });

  it("fails to connect with a wrong token with VAULT_AUTH_FAILED and one clear line", async () => {
    const err = (await caught(connectWithToken("s.not-a-real-token-at-all"))) as RotatorError;
    expect(err).toBeInstanceOf(RotatorError);
    expect(err.code).toBe("VAULT_AUTH_FAILED");
    expect(err.toLine()).toBe(
      "VAULT_AUTH_FAILED: the Vault token was rejected (invalid, expired, or lacking the default policy): " +
        "GET auth/token/lookup-self → HTTP 403: permission denied",
    );
  });

  it("maps a policy denial to VAULT_PERMISSION_DENIED naming the method, path and status", async () => {
    const client = await connectWithToken(await a.createToken({ policies: ["default"] }));
    try {
      const err = (await caught(
        client.request({ method: "GET", path: "secret/data/forbidden/x" }),
      )) as RotatorError;
      expect(err.code).toBe("VAULT_PERMISSION_DENIED");
      expect(err.message).toBe("GET secret/data/forbidden/x → HTTP 403: permission denied");
      expect(err.retryable).toBe(false);
    } finally {
      await client.close();
    }
  });

  it("gives VAULT_UNAVAILABLE after bounded retries when nothing listens", async () => {
    const port = await freePort();
    const counting = recordingTransport();
    try {
      const started = Date.now();
      const err = (await caught(
        VaultClient.connect({
          address: `http://127.0.0.1:${port}`,
          auth: tokenAuth("s.whatever"),
          maxRetries: 2,
          transport: counting.transport,
        }),
      )) as RotatorError;
      expect(err.code).toBe("VAULT_UNAVAILABLE");
      expect(err.retryable).toBe(true);
      expect(err.message).toBe(
        `GET auth/token/lookup-self: cannot reach Vault at http://127.0.0.1:${port} (ECONNREFUSED)`,
      );
      expect(counting.calls).toEqual(Array(3).fill("GET /v1/auth/token/lookup-self"));
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await counting.close();
    }
  });

  it("times out a call to a server that never answers", async () => {
    const { createServer } = await import("node:net");
    const sockets: import("node:net").Socket[] = [];
    const silent = createServer((s) => sockets.push(s)); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    const port = (silent.address() as import("node:net").AddressInfo).port;
    try {
      const started = Date.now();
      const err = (await caught(
        VaultClient.connect({
          address: `http://127.0.0.1:${port}`,
          auth: tokenAuth("s.x"),
          timeoutMs: 300,
          maxRetries: 1,
        }),
      )) as RotatorError;
      expect(err.code).toBe("VAULT_UNAVAILABLE");
      expect(err.message).toContain("UND_ERR_HEADERS_TIMEOUT");
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it("waits as long as Retry-After says on a 429 before retrying a read, and never retries a rate-limited write", async () => {
    const mount = uniqueName("rl");
    await a.mountKv(mount, 2);
    await a.seedKv(mount, "x", { v: 1 });
    await a.must("POST", "sys/quotas/config", { enable_rate_limit_response_headers: true });
    const counting = recordingTransport();
    const log = recordingLog();
    const client = await rootClient({ transport: counting.transport, maxRetries: 2, log });
    try {
      const kv = new KvV2(client, mount);
      await kv.checkMount();
      await a.must("POST", `sys/quotas/rate-limit/${mount}`, { rate: 1, interval: "3s", path: `${mount}/` });
      counting.calls.length = 0;
      // The quota allows one request per 3 s: the rest of these reads are answered 429 with Retry-After.
      await Promise.allSettled([kv.readMetadata("x"), kv.readMetadata("x")]);
      const retries = log.lines.filter((l) => l.msg === "vault call failed; retrying");
      expect(retries.length).toBeGreaterThanOrEqual(1);
      expect(retries.every((r) => (r.obj as { code: string }).code === "VAULT_RATE_LIMITED")).toBe(true);
      // Our own first backoff step is at most 200 ms; a wait of a second or more came from the server's header.
      expect(Math.max(...retries.map((r) => (r.obj as { delayMs: number }).delayMs))).toBeGreaterThanOrEqual(
        1_000,
      );
      expect(counting.calls.length).toBeGreaterThan(2);

      counting.calls.length = 0;
      const write = (await caught(async () => {
        // Spend the interval's request first, so the write is the one that is limited.
        await kv.writeData("x", { v: 2 }, { cas: 1 }).catch(() => undefined);
        await kv.writeData("x", { v: 3 }, { cas: 2 });
      })) as RotatorError;
      expect(write.code).toBe("VAULT_RATE_LIMITED");
      expect(write.retryable).toBe(true);
      expect(write.message).toBe(
        `POST ${mount}/data/x → HTTP 429: request path "${mount}/data/x": rate limit quota exceeded`,
      );
      expect(counting.calls.length).toBeLessThanOrEqual(2);
    } finally {
      await a.request("DELETE", `sys/quotas/rate-limit/${mount}`);
      await client.close();
      await counting.close();
    }
  });

  it("sends the namespace header so a namespaced mount is used (OpenBao namespaces)", async () => {
    const ns = uniqueName("ns");
    await a.must("POST", `sys/namespaces/${ns}`, {});
    await a.must(
      "POST",
      "sys/mounts/kvns",
      { type: "kv", options: { version: "2" } },
      { "X-Vault-Namespace": ns },
    );
    const client = await rootClient({ namespace: ns });
    try {
      const kv = new KvV2(client, "kvns");
      await kv.writeData("inside/ns", { v: "1" }, { cas: 0 });
      expect((await kv.readData("inside/ns"))?.data).toEqual({ v: "1" });
      const body = (await a.must("GET", "kvns/data/inside/ns", undefined, { "X-Vault-Namespace": ns })) as {
        data: { data: unknown };
      };
      expect(body.data.data).toEqual({ v: "1" });
      expect((await a.request("GET", "kvns/data/inside/ns")).status).not.toBe(200);
    } finally {
      await client.close();
    }
  });
});

describe("VaultClient against an answer larger than its 64 MiB cap", () => {
  const MiB = 1024 * 1024;
  const lookupSelf = (_method: string, path: string) =>
    path === "/v1/auth/token/lookup-self"
      ? { status: 200, body: JSON.stringify({ data: { ttl: 0, policies: ["root"] } }) }
      : undefined;

  it("aborts a 200 MiB answer soon after 64 MiB: VAULT_UNEXPECTED_RESPONSE, not retried", async () => {
    const flood = await startFloodServer({ mode: "stream" });
    try {
      const err = (await caught(
        VaultClient.connect({ address: flood.url, auth: tokenAuth("s.flood"), maxRetries: 2 }),
      )) as RotatorError;
      expect(err.code).toBe("VAULT_UNEXPECTED_RESPONSE");
      expect(err.retryable).toBe(false);
      expect(err.message).toBe("GET auth/token/lookup-self → HTTP 200: the answer is larger than 64 MiB");
      expect(flood.requests).toEqual(["GET /v1/auth/token/lookup-self"]);
      const [sent = Number.POSITIVE_INFINITY] = await flood.settled();
      expect(sent).toBeLessThan(80 * MiB);
    } finally {
      await flood.close();
    }
  });

  it("refuses a detailed-metadata listing that declares 200 MiB before reading it, and says what to do", async () => {
    const flood = await startFloodServer({ mode: "declared", answer: lookupSelf });
    const client = await VaultClient.connect({ address: flood.url, auth: tokenAuth("s.flood") });
    try {
      const err = (await caught(
        // GET ?list=true is LIST's other spelling (node:http does not parse the LIST method).
        client.request({ method: "GET", path: "secret/detailed-metadata/big/", query: { list: true } }),
      )) as RotatorError;
      expect(err.code).toBe("VAULT_UNEXPECTED_RESPONSE");
      expect(err.message).toBe(
        "GET secret/detailed-metadata/big/ → HTTP 200: the answer is larger than 64 MiB " +
          "(a detailed-metadata listing of a very large folder: set vault.listing: per-key)",
      );
      expect(await flood.settled()).toEqual([0]);
    } finally {
      await client.close();
      await flood.close();
    }
  });
});

describe("VaultClient over TLS (a second dev server with -dev-tls)", () => {
  let proc: ChildProcess | undefined;
  let dir = "";
  let addr = "";
  const token = "tls-test-root-token";

  beforeAll(async () => {
    const binary = useVault().binary;
    if (!binary) throw new Error("this test needs the bao/vault binary (the default bao test backend)");
    dir = await mkdtemp(path.join(tmpdir(), "eca-tls-"));
    const port = await freePort();
    addr = `https://127.0.0.1:${port}`;
    proc = spawn(
      binary,
      [
        "server",
        "-dev",
        "-dev-tls",
        `-dev-tls-cert-dir=${dir}`,
        `-dev-root-token-id=${token}`,
        `-dev-listen-address=127.0.0.1:${port}`,
        "-dev-no-store-token",
      ],
      { stdio: "ignore", env: { ...process.env, BAO_LOG_LEVEL: "error", VAULT_LOG_LEVEL: "error" } },
    );
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const c = await VaultClient.connect({
          address: addr,
          auth: tokenAuth(token),
          tls: {
            caCertFile: path.join(dir, "vault-ca.pem"),
            caPath: undefined,
            clientCertFile: undefined,
            clientKeyFile: undefined,
            serverName: undefined,
            skipVerify: false,
          },
          maxRetries: 0,
        });
        await c.close();
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  });

  afterAll(async () => {
    if (proc) await stopProcess(proc);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const tls = (over: Partial<NonNullable<Parameters<typeof VaultClient.connect>[0]["tls"]>>) => ({
    caCertFile: undefined,
    caPath: undefined,
    clientCertFile: undefined,
    clientKeyFile: undefined,
    serverName: undefined,
    skipVerify: false,
    ...over,
  });

  it("refuses a server certificate it cannot verify with VAULT_TLS, without retrying", async () => {
    const counting = recordingTransport();
    try {
      const err = (await caught(
        VaultClient.connect({ address: addr, auth: tokenAuth(token), transport: counting.transport }),
      )) as RotatorError;
      expect(err.code).toBe("VAULT_TLS");
      expect(err.message).toMatch(
        /^GET auth\/token\/lookup-self: TLS handshake with Vault at https:\/\/127\.0\.0\.1:\d+ failed \(\w+/,
      );
      expect(counting.calls).toHaveLength(1);
    } finally {
      await counting.close();
    }
  });

  it("trusts a CA file, a CA folder, or skip-verify, and checks the server name", async () => {
    const caDir = path.join(dir, "ca-only");
    await mkdir(caDir, { recursive: true });
    await copyFile(path.join(dir, "vault-ca.pem"), path.join(caDir, "vault-ca.pem"));
    await writeFile(path.join(caDir, "README.txt"), "not a certificate");
    for (const t of [
      tls({ caCertFile: path.join(dir, "vault-ca.pem") }),
      tls({ caPath: caDir }),
      tls({ skipVerify: true }),
      tls({ caCertFile: path.join(dir, "vault-ca.pem"), serverName: "localhost" }),
    ]) {
      const client = await VaultClient.connect({ address: addr, auth: tokenAuth(token), tls: t });
      expect((await client.health()).sealed).toBe(false);
      await client.close();
    }
    const wrongName = (await caught(
      VaultClient.connect({
        address: addr,
        auth: tokenAuth(token),
        tls: tls({ caCertFile: path.join(dir, "vault-ca.pem"), serverName: "not-this-host.example" }),
      }),
    )) as RotatorError;
    expect(wrongName.code).toBe("VAULT_TLS");
    const missing = (await caught(
      VaultClient.connect({
        address: addr,
        auth: tokenAuth(token),
        tls: tls({ caCertFile: path.join(dir, "nope.pem") }),
      }),
    )) as RotatorError;
    expect(missing.code).toBe("VAULT_TLS");
    expect(missing.message).toBe(
      `cannot read the CA certificate file ${path.join(dir, "nope.pem")} (ENOENT)`,
    );
  });
});
