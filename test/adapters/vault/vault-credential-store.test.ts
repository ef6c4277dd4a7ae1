// VaultCredentialStore on the real server: the CredentialStore contract with a root token (KV PATCH), with a
// token whose policy lacks `patch` (read + POST with cas), and with policies/rotator.hcl; plus what only the
// Vault adapter decides (non-string JSON values, the prefix fence, `provider` is never patched).
import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import {
  isSecretFieldName,
  KvV2,
  MANAGED_READ_FRESH_MS,
  VaultCredentialStore,
} from "../../../src/adapters/vault/kv-v2.ts";
import type { VaultClient } from "../../../src/adapters/vault/vault-client.ts";
import { SecretValue } from "../../../src/core/secret-value.ts";
import {
  CANARY_NEW,
  CANARY_OLD,
  describeCredentialStoreContract,
  MANAGED,
} from "../../contract/credential-store-contract.ts";
import { policyText } from "../../policies/policy-test-helpers.ts";
import { admin, uniqueName, useVault } from "../../support/vault-admin.ts";
import { credentialFixtureKit, rawEntry, seedVersion } from "./rotation-store-kit.ts";
import { caught, connectWithToken, recordingTransport, rootClient } from "./vault-test-kit.ts";

const MOUNT = "secret";
const PREFIX = "api-credentials";

const clients: VaultClient[] = [];
afterAll(async () => {
  for (const c of clients) await c.close();
});

async function remember(c: Promise<VaultClient>): Promise<VaultClient> {
  const client = await c;
  clients.push(client);
  return client;
}

let rootStore: VaultCredentialStore | undefined;
async function storeWithRoot(): Promise<VaultCredentialStore> {
  rootStore ??= new VaultCredentialStore(new KvV2(await remember(rootClient()), MOUNT), {
    prefixes: [PREFIX],
  });
  return rootStore;
}

async function storeWithPolicy(hcl: string): Promise<VaultCredentialStore> {
  const a = admin();
  const name = uniqueName("cred-store");
  await a.writePolicy(name, hcl);
  // rotator.hcl stands alone; the ad-hoc policy relies on Vault's "default" policy for lookup-self.
  const token = await a.createToken({ policies: [name], noDefaultPolicy: hcl.includes("lookup-self") });
  const kv = new KvV2(await remember(connectWithToken(token)), MOUNT);
  return new VaultCredentialStore(kv, { prefixes: [PREFIX] });
}

const NO_PATCH_POLICY = `
path "secret/data/api-credentials/*" { capabilities = ["read", "create", "update"] }
path "secret/metadata/api-credentials/*" { capabilities = ["read", "list", "patch"] }
`;

describeCredentialStoreContract("VaultCredentialStore (root token, KV PATCH)", async () => ({
  ...credentialFixtureKit(MOUNT, PREFIX),
  store: await storeWithRoot(),
}));

let noPatchStore: VaultCredentialStore | undefined;
describeCredentialStoreContract(
  "VaultCredentialStore (no patch capability: read + POST with cas)",
  async () => {
    noPatchStore ??= await storeWithPolicy(NO_PATCH_POLICY);
    return { ...credentialFixtureKit(MOUNT, PREFIX), store: noPatchStore };
  },
);

let rotatorStore: VaultCredentialStore | undefined;
describeCredentialStoreContract("VaultCredentialStore (policies/rotator.hcl)", async () => {
  rotatorStore ??= await storeWithPolicy(policyText("rotator.hcl"));
  return { ...credentialFixtureKit(MOUNT, PREFIX), store: rotatorStore };
});

/**
 * A loopback proxy in front of the run's Vault that answers data reads as a server older than Vault 1.9 does:
 * without custom_metadata in the version's metadata.
 */
async function oldStyleVault(): Promise<{ addr: string; close: () => Promise<void> }> {
  const target = new URL(useVault().addr);
  const server = createServer((req, res) => {
    const upstream = httpRequest(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (up) => {
        const chunks: Buffer[] = [];
        up.on("data", (c: Buffer) => chunks.push(c));
        up.on("end", () => {
          let body = Buffer.concat(chunks).toString();
          if (req.method === "GET" && req.url?.includes("/data/") && body.startsWith("{")) {
            const parsed = JSON.parse(body) as { data?: { metadata?: Record<string, unknown> } };
            delete parsed.data?.metadata?.["custom_metadata"];
            body = JSON.stringify(parsed);
          }
          const headers = { ...up.headers, "content-length": String(Buffer.byteLength(body)) };
          res.writeHead(up.statusCode ?? 502, headers).end(body);
        });
      },
    );
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    addr: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe("VaultCredentialStore", () => {
  it("reads data, version and custom_metadata in one request; without custom_metadata in the answer, two", async () => {
    const a = admin();
    const p = `${PREFIX}/${uniqueName("one-read")}/crm`;
    await seedVersion(a, MOUNT, p, { client_id: "a", api_key: CANARY_OLD }, MANAGED);
    const v2 = await seedVersion(a, MOUNT, p, { client_id: "b", api_key: CANARY_NEW });
    const expected = { version: v2, data: { client_id: "b" }, customMetadata: MANAGED };

    const rec = recordingTransport();
    const proxy = await oldStyleVault();
    try {
      const client = await remember(connectWithToken(useVault().token, { transport: rec.transport }));
      const store = new VaultCredentialStore(new KvV2(client, MOUNT), { prefixes: [PREFIX] });
      await store.read(p); // the first call also checks the mount
      rec.calls.length = 0;
      const got = await store.read(p);
      expect(got).toMatchObject(expected);
      expect(got?.data["api_key"]).toBeInstanceOf(SecretValue);
      expect(rec.calls).toEqual([`GET /v1/${MOUNT}/data/${p}`]);

      const old = await remember(
        connectWithToken(useVault().token, { address: proxy.addr, transport: rec.transport }),
      );
      const oldStore = new VaultCredentialStore(new KvV2(old, MOUNT), { prefixes: [PREFIX] });
      await oldStore.read(p);
      rec.calls.length = 0;
      expect(await oldStore.read(p)).toMatchObject(expected);
      expect(rec.calls).toEqual([`GET /v1/${MOUNT}/data/${p}`, `GET /v1/${MOUNT}/metadata/${p}`]);
    } finally {
      await proxy.close();
      await rec.close();
    }
  });

  it("writes with KV PATCH under rotator.hcl, and falls back to POST with cas when patch is denied", async () => {
    const withRotator = await storeWithPolicy(policyText("rotator.hcl"));
    const withoutPatch = await storeWithPolicy(NO_PATCH_POLICY);
    for (const store of [withRotator, withoutPatch]) {
      const f = credentialFixtureKit(MOUNT, PREFIX);
      const p = f.path("crm");
      const v = await f.seed(p, { client_id: "a", api_key: CANARY_OLD }, MANAGED);
      await store.writeFields(p, { api_key: SecretValue.of(CANARY_NEW) }, v);
      expect((await f.raw(p))?.data).toEqual({ client_id: "a", api_key: CANARY_NEW });
    }
    expect(withRotator.usesPatch).toBe(true);
    expect(withoutPatch.usesPatch).toBe(false);
  });

  it("reads non-string JSON values as their JSON text and leaves their types alone when writing", async () => {
    const store = await storeWithRoot();
    const a = admin();
    const p = `${PREFIX}/${uniqueName("json")}/crm`;
    const v = await seedVersion(
      a,
      MOUNT,
      p,
      {
        client_id: "a",
        api_key: CANARY_OLD,
        port: 5432,
        enabled: true,
        extra: { nested: [1, 2] },
        none: null,
      },
      MANAGED,
    );
    const got = await store.read(p);
    expect(got?.data["port"]).toBe("5432");
    expect(got?.data["enabled"]).toBe("true");
    expect(got?.data["extra"]).toBe('{"nested":[1,2]}');
    expect(got?.data["none"]).toBe("null");
    await store.writeFields(p, { client_id: "b" }, v);
    expect((await rawEntry(a, MOUNT, p))?.data).toEqual({
      client_id: "b",
      api_key: CANARY_OLD,
      port: 5432,
      enabled: true,
      extra: { nested: [1, 2] },
      none: null,
    });
  });

  it("refuses to write a managed entry outside the configured prefixes", async () => {
    const store = await storeWithRoot();
    const p = `${uniqueName("elsewhere")}/crm`;
    const v = await seedVersion(admin(), MOUNT, p, { client_id: "a", api_key: CANARY_OLD }, MANAGED);
    const err = await caught(store.writeFields(p, { client_id: "b" }, v));
    expect(err).toMatchObject({ code: "VAULT_NOT_MANAGED" });
    expect(await caught(store.patchMetadata(p, { rotation_state: "idle" }))).toMatchObject({
      code: "VAULT_NOT_MANAGED",
    });
    expect(await caught(store.writeFields(`${PREFIX}/../${p}`, { client_id: "b" }, v))).toMatchObject({
      code: "VAULT_NOT_MANAGED",
    });
    expect((await rawEntry(admin(), MOUNT, p))?.version).toBe(v);
  });

  it("never changes the provider key, which belongs to the operators", async () => {
    const store = await storeWithRoot();
    const p = `${PREFIX}/${uniqueName("prov")}/crm`;
    await seedVersion(admin(), MOUNT, p, { client_id: "a" }, MANAGED);
    for (const patch of [{ provider: null }, { provider: "manual" }]) {
      expect(await caught(store.patchMetadata(p, patch))).toMatchObject({ code: "VAULT_NOT_MANAGED" });
    }
    expect((await rawEntry(admin(), MOUNT, p))?.customMetadata).toEqual(MANAGED);
  });

  it("reports a write against a deleted current version as not found", async () => {
    for (const store of [await storeWithRoot(), await storeWithPolicy(NO_PATCH_POLICY)]) {
      const p = `${PREFIX}/${uniqueName("gone")}/crm`;
      const v = await seedVersion(admin(), MOUNT, p, { client_id: "a", api_key: CANARY_OLD }, MANAGED);
      await admin().must("DELETE", `${MOUNT}/data/${p}`);
      const err = await caught(store.writeFields(p, { client_id: "b" }, v));
      expect(err).toMatchObject({ code: "VAULT_NOT_FOUND" });
    }
  });

  describe("the managed check after its own read", () => {
    /** A store on the root token that records its requests, with a clock the test moves. */
    async function recordedStore(): Promise<{
      store: VaultCredentialStore;
      calls: string[];
      advance: (ms: number) => void;
      close: () => Promise<void>;
    }> {
      const rec = recordingTransport();
      const client = await remember(connectWithToken(useVault().token, { transport: rec.transport }));
      let t = 0;
      const store = new VaultCredentialStore(new KvV2(client, MOUNT), { prefixes: [PREFIX], now: () => t });
      return { store, calls: rec.calls, advance: (ms) => (t += ms), close: () => rec.close() };
    }

    async function managedEntry(): Promise<{ p: string; v: number }> {
      const p = `${PREFIX}/${uniqueName("vouch")}/crm`;
      const v = await seedVersion(admin(), MOUNT, p, { client_id: "a", api_key: CANARY_OLD }, MANAGED);
      return { p, v };
    }

    /** What an operator does to take an entry away from the rotator: remove `provider`. */
    async function unmanage(p: string): Promise<void> {
      await admin().must(
        "PATCH",
        `${MOUNT}/metadata/${p}`,
        { custom_metadata: { provider: null } },
        { "Content-Type": "application/merge-patch+json" },
      );
    }

    it("skips the metadata read when the store has just read the entry itself, once", async () => {
      const r = await recordedStore();
      try {
        const { p, v } = await managedEntry();
        await r.store.read(p); // the first call also checks the mount
        r.calls.length = 0;
        const cred = await r.store.read(p);
        await r.store.writeFields(p, { client_id: "b" }, cred?.version ?? 0);
        expect(r.calls).toEqual([`GET /v1/${MOUNT}/data/${p}`, `PATCH /v1/${MOUNT}/data/${p}`]);
        // The read vouched once: the next write checks for itself.
        r.calls.length = 0;
        await r.store.patchMetadata(p, { rotation_state: "idle" });
        expect(r.calls).toEqual([`GET /v1/${MOUNT}/metadata/${p}`, `PATCH /v1/${MOUNT}/metadata/${p}`]);
        r.calls.length = 0;
        await r.store.read(p);
        await r.store.patchMetadata(p, { rotation_state: "in_progress" });
        expect(r.calls).toEqual([`GET /v1/${MOUNT}/data/${p}`, `PATCH /v1/${MOUNT}/metadata/${p}`]);
        expect((await rawEntry(admin(), MOUNT, p))?.version).toBe(v + 1);
      } finally {
        await r.close();
      }
    });

    it("refuses an entry whose provider was removed after its read whenever the read does not vouch", async () => {
      const r = await recordedStore();
      try {
        // Used up: the read vouched for the first write, not for the one after the operator removed provider.
        const used = await managedEntry();
        await r.store.read(used.p);
        await r.store.patchMetadata(used.p, { rotation_state: "in_progress" });
        await unmanage(used.p);
        const usedErr = await caught(r.store.writeFields(used.p, { client_id: "b" }, used.v));
        expect(usedErr).toMatchObject({ code: "VAULT_NOT_MANAGED" });

        // Another version: a read of version v says nothing about a write expecting another one.
        const other = await managedEntry();
        await r.store.read(other.p);
        const v2 = await seedVersion(admin(), MOUNT, other.p, { client_id: "c", api_key: CANARY_OLD });
        await unmanage(other.p);
        expect(await caught(r.store.writeFields(other.p, { client_id: "b" }, v2))).toMatchObject({
          code: "VAULT_NOT_MANAGED",
        });

        // Too old: a read vouches for MANAGED_READ_FRESH_MS only.
        const old = await managedEntry();
        await r.store.read(old.p);
        r.advance(MANAGED_READ_FRESH_MS + 1);
        await unmanage(old.p);
        expect(await caught(r.store.writeFields(old.p, { client_id: "b" }, old.v))).toMatchObject({
          code: "VAULT_NOT_MANAGED",
        });
        expect(await caught(r.store.patchMetadata(old.p, { rotation_state: "idle" }))).toMatchObject({
          code: "VAULT_NOT_MANAGED",
        });

        // A read that saw the removal vouches for nothing.
        const seen = await managedEntry();
        await unmanage(seen.p);
        await r.store.read(seen.p);
        expect(await caught(r.store.patchMetadata(seen.p, { rotation_state: "idle" }))).toMatchObject({
          code: "VAULT_NOT_MANAGED",
        });

        for (const e of [used, other, old, seen]) {
          const raw = await rawEntry(admin(), MOUNT, e.p);
          expect(raw?.data["client_id"]).not.toBe("b");
          expect(raw?.customMetadata["rotation_state"]).not.toBe("idle");
        }
      } finally {
        await r.close();
      }
    });

    it("still refuses a path outside the prefixes that it read", async () => {
      const r = await recordedStore();
      try {
        const p = `${uniqueName("outside")}/crm`;
        const v = await seedVersion(admin(), MOUNT, p, { client_id: "a", api_key: CANARY_OLD }, MANAGED);
        await r.store.read(p);
        expect(await caught(r.store.writeFields(p, { client_id: "b" }, v))).toMatchObject({
          code: "VAULT_NOT_MANAGED",
        });
        expect((await rawEntry(admin(), MOUNT, p))?.version).toBe(v);
      } finally {
        await r.close();
      }
    });
  });

  it("treats api keys and secrets as secrets and consumer keys as identifiers", () => {
    for (const n of [
      "api_key",
      "previous_key",
      "client_secret",
      "current_secret",
      "previous_secret",
      "db_password",
    ]) {
      expect(isSecretFieldName(n), n).toBe(true);
    }
    for (const n of ["client_id", "previous_client_id", "rotated_at", "rotated_by", "username"]) {
      expect(isSecretFieldName(n), n).toBe(false);
    }
  });
});
