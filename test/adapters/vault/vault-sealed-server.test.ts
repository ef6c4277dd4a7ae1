import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvV2 } from "../../../src/adapters/vault/kv-v2.ts";
import { VaultClient } from "../../../src/adapters/vault/vault-client.ts";
import type { RotatorError } from "../../../src/core/errors.ts";
import { type StandaloneServer, startStandaloneServer } from "../../support/standalone-server.ts";
import { useVault, VaultAdmin } from "../../support/vault-admin.ts";
import { waitForHealthy } from "../../support/vault-backend.ts";
import { caught, recordingTransport, tokenAuth } from "./vault-test-kit.ts";

describe("VaultClient against a sealed, then unsealed, then stopped server", () => {
  let server: StandaloneServer | undefined;
  let addr = "";
  let rootToken = "";

  beforeAll(async () => {
    const binary = useVault().binary;
    if (!binary) throw new Error("this test needs the bao/vault binary (the default bao test backend)");
    server = await startStandaloneServer(binary);
    addr = server.addr;
  });

  afterAll(async () => {
    await server?.stop();
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
    await waitForHealthy(addr, 30_000);
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
    const counting = recordingTransport();
    const client = await VaultClient.connect({
      address: addr,
      auth: tokenAuth(rootToken),
      maxRetries: 2,
      transport: counting.transport,
    });
    try {
      const kv = new KvV2(client, "secret");
      await kv.checkMount();
      await server?.stop();
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
