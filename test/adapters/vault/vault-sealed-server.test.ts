// A second, non-dev server (raft storage in a temp folder): starts uninitialised and sealed, is initialised and
// unsealed through the API, and is finally stopped under a connected client.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvV2 } from "../../../src/adapters/vault/kv-v2.ts";
import { VaultClient } from "../../../src/adapters/vault/vault-client.ts";
import type { RotatorError } from "../../../src/core/errors.ts";
import { useVault, VaultAdmin } from "../../support/vault-admin.ts";
import { freePort, stopProcess, waitForHealthy } from "../../support/vault-backend.ts";
import { caught, countingDispatcher, tokenAuth } from "./vault-test-kit.ts";

describe("VaultClient against a sealed, then unsealed, then stopped server", () => {
  let proc: ChildProcess | undefined;
  let dir = "";
  let addr = "";
  let rootToken = "";
  let stderr = "";

  beforeAll(async () => {
    const binary = useVault().binary;
    if (!binary) throw new Error("this test needs the bao/vault binary (the default bao test backend)");
    dir = await mkdtemp(path.join(tmpdir(), "eca-sealed-"));
    const [port, clusterPort] = [await freePort(), await freePort()];
    addr = `http://127.0.0.1:${port}`;
    // OpenBao 2.7 has no "file" storage any more; single-node raft is its replacement for tests.
    await writeFile(
      path.join(dir, "server.hcl"),
      `disable_mlock = true
       api_addr = "${addr}"
       cluster_addr = "http://127.0.0.1:${clusterPort}"
       storage "raft" {
         path = "${path.join(dir, "data").replaceAll("\\", "/")}"
         node_id = "sealed-test"
       }
       listener "tcp" {
         address = "127.0.0.1:${port}"
         cluster_address = "127.0.0.1:${clusterPort}"
         tls_disable = true
       }
`,
    );
    await mkdir(path.join(dir, "data"));
    proc = spawn(binary, ["server", `-config=${path.join(dir, "server.hcl")}`], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, BAO_LOG_LEVEL: "warn", VAULT_LOG_LEVEL: "warn" },
    });
    proc.stderr?.on("data", (c: Buffer) => {
      stderr = (stderr + c.toString()).slice(-4000);
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const status = await fetch(`${addr}/v1/sys/health`).then(
        (r) => r.status,
        () => 0,
      );
      if (status !== 0) break;
      if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`server did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  afterAll(async () => {
    if (proc) await stopProcess(proc);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("says the server is sealed (VAULT_SEALED) before it is initialised, then works once unsealed", async () => {
    const err = (await caught(
      VaultClient.connect({ address: addr, auth: tokenAuth("s.anything") }),
    )) as RotatorError;
    expect(err.code).toBe("VAULT_SEALED");
    expect(err.toLine()).toBe("VAULT_SEALED: GET auth/token/lookup-self → HTTP 503: Vault is sealed");
    expect(err.retryable).toBe(true);

    const init = (await new VaultAdmin({ addr, token: "", backend: "bao", binary: undefined }).must(
      "PUT",
      "sys/init",
      {
        secret_shares: 1,
        secret_threshold: 1,
      },
    )) as { keys_base64: string[]; root_token: string };
    rootToken = init.root_token;
    const sealedAfterInit = (await caught(
      VaultClient.connect({ address: addr, auth: tokenAuth(rootToken) }),
    )) as RotatorError;
    expect(sealedAfterInit.code).toBe("VAULT_SEALED");

    const adm = new VaultAdmin({ addr, token: rootToken, backend: "bao", binary: undefined });
    await adm.must("PUT", "sys/unseal", { key: init.keys_base64[0] });
    await waitForHealthy(addr, 30_000, proc);
    await adm.mountKv("secret", 2);

    const client = await VaultClient.connect({ address: addr, auth: tokenAuth(rootToken) });
    try {
      expect(await client.health()).toMatchObject({ initialized: true, sealed: false });
      const kv = new KvV2(client, "secret");
      await kv.writeData("after/unseal", { ok: "yes" }, { cas: 0 });
      expect((await kv.readData("after/unseal"))?.data).toEqual({ ok: "yes" });
    } finally {
      await client.close();
    }
  });

  it("retries reads a bounded number of times but sends a write only once when the server goes away", async () => {
    expect(rootToken).not.toBe("");
    const counting = countingDispatcher();
    const client = await VaultClient.connect({
      address: addr,
      auth: tokenAuth(rootToken),
      maxRetries: 2,
      dispatcher: counting.dispatcher,
    });
    try {
      const kv = new KvV2(client, "secret");
      await kv.checkMount();
      if (proc) await stopProcess(proc);
      counting.calls.length = 0;
      const read = (await caught(kv.readMetadata("after/unseal"))) as RotatorError;
      expect(read.code).toBe("VAULT_UNAVAILABLE");
      expect(counting.calls).toEqual(Array(3).fill("GET /v1/secret/metadata/after/unseal"));
      counting.calls.length = 0;
      const write = (await caught(kv.writeData("after/unseal", { ok: "again" }, { cas: 1 }))) as RotatorError;
      expect(write.code).toBe("VAULT_UNAVAILABLE");
      expect(counting.calls).toEqual(["POST /v1/secret/data/after/unseal"]);
    } finally {
      await client.close();
      await counting.close();
    }
  });
});
