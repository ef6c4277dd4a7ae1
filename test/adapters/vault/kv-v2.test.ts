import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KvV2 } from "../../../src/adapters/vault/kv-v2.ts";
import { KvV2 as KvV2Class } from "../../../src/adapters/vault/kv-v2.ts";
import type { VaultClient } from "../../../src/adapters/vault/vault-client.ts";
import { RotatorError } from "../../../src/core/errors.ts";
import { admin, uniqueName } from "../../support/vault-admin.ts";
import { caught, collect, rootClient } from "./vault-test-kit.ts";

describe("KvV2 against the real server", () => {
  const a = admin();
  const base = uniqueName("kvv2");
  let client: VaultClient;
  let kv: KvV2;

  beforeAll(async () => {
    client = await rootClient();
    kv = new KvV2Class(client, "secret", { statePrefix: `${base}/state` });
    await a.seedKv("secret", `${base}/tree/one`, { v: 1 });
    await a.seedKv("secret", `${base}/tree/two`, { v: 2 });
    await a.seedKv("secret", `${base}/tree/sub/three`, { v: 3 });
    await a.seedKv("secret", `${base}/tree/sub/deeper/four`, { v: 4 });
    await a.seedKv("secret", `${base}/tree/sub`, { v: "both a key and a folder" });
  });

  afterAll(async () => {
    await client.close();
  });

  it("lists one level, with folders ending in a slash", async () => {
    expect((await kv.list(`${base}/tree`)).sort()).toEqual(["one", "sub", "sub/", "two"]);
    expect((await kv.list(`/${base}/tree/sub/`)).sort()).toEqual(["deeper/", "three"]);
  });

  it("lists a missing prefix as empty rather than failing", async () => {
    expect(await kv.list(`${base}/does-not-exist`)).toEqual([]);
    expect(await collect(kv.walk(`${base}/does-not-exist`))).toEqual([]);
  });

  it("walks every key under a prefix recursively, as paths relative to the mount", async () => {
    expect((await collect(kv.walk(`${base}/tree`))).sort()).toEqual(
      [
        `${base}/tree/one`,
        `${base}/tree/sub`,
        `${base}/tree/sub/deeper/four`,
        `${base}/tree/sub/three`,
        `${base}/tree/two`,
      ].sort(),
    );
  });

  it("reads metadata with custom_metadata and per-version times, and undefined for a missing key", async () => {
    const path = `${base}/meta/entry`;
    await a.seedKv("secret", path, { v: 1 }, { owner: "team-a", provider: "salesforce" });
    await a.seedKv("secret", path, { v: 2 });
    const meta = await kv.readMetadata(path);
    expect(meta).toBeDefined();
    expect(meta?.currentVersion).toBe(2);
    expect(meta?.customMetadata).toEqual({ owner: "team-a", provider: "salesforce" });
    expect(Object.keys(meta?.versions ?? {}).sort()).toEqual(["1", "2"]);
    expect(meta?.versions["2"]?.deletionTime).toBe("");
    expect(meta?.versions["2"]?.destroyed).toBe(false);
    expect(Date.parse(meta?.versions["2"]?.createdTime ?? "")).toBeGreaterThan(0);
    expect(meta?.casRequired).toBe(false);
    expect(await kv.readMetadata(`${base}/meta/missing`)).toBeUndefined();
  });

  it("reads the current version, a given version, and reports a deleted version as deleted, not absent", async () => {
    const path = `${base}/data/versions`;
    await a.seedKv("secret", path, { api_key: "first" });
    await a.seedKv("secret", path, { api_key: "second" });
    await a.seedKv("secret", path, { api_key: "third" });
    expect(await kv.readData(path)).toMatchObject({ data: { api_key: "third" }, version: 3, deleted: false });
    expect(await kv.readData(path, 1)).toMatchObject({
      data: { api_key: "first" },
      version: 1,
      deleted: false,
    });
    await a.must("POST", `secret/delete/${path}`, { versions: [2] });
    await a.must("PUT", `secret/destroy/${path}`, { versions: [1] });
    const deleted = await kv.readData(path, 2);
    expect(deleted).toMatchObject({ data: null, version: 2, deleted: true });
    expect(Date.parse(deleted?.createdTime ?? "")).toBeGreaterThan(0);
    expect(await kv.readData(path, 1)).toMatchObject({ data: null, version: 1, deleted: true });
    expect(await kv.readData(`${base}/data/missing`)).toBeUndefined();
    expect(await kv.readData(path, 99)).toBeUndefined();
  });

  it("writes with check-and-set: creates with cas 0, updates with the current version, rejects a stale one", async () => {
    const path = `${base}/write/cas`;
    expect(await kv.writeData(path, { api_key: "a" }, { cas: 0 })).toEqual({ version: 1 });
    expect(await kv.writeData(path, { api_key: "b" }, { cas: 1 })).toEqual({ version: 2 });
    const stale = await caught(kv.writeData(path, { api_key: "c" }, { cas: 1 }));
    expect(stale).toBeInstanceOf(RotatorError);
    expect((stale as RotatorError).code).toBe("VAULT_CAS_CONFLICT");
    expect((stale as RotatorError).message).toBe(
      `POST secret/data/${path} → HTTP 400: check-and-set parameter did not match the current version`,
    );
    const again = await caught(kv.writeData(path, { api_key: "d" }, { cas: 0 }));
    expect((again as RotatorError).code).toBe("VAULT_CAS_CONFLICT");
    expect(await a.readData("secret", path)).toEqual({ api_key: "b" });
  });

  it("patches data as a merge patch: other fields survive, the version goes up, a stale cas conflicts", async () => {
    const path = `${base}/patch/data`;
    await a.seedKv("secret", path, { api_key: "old", client_id: "id-1", note: "keep me" });
    expect(await kv.patchData(path, { api_key: "new", previous_key: "old" }, { cas: 1 })).toEqual({
      version: 2,
    });
    expect(await a.readData("secret", path)).toEqual({
      api_key: "new",
      previous_key: "old",
      client_id: "id-1",
      note: "keep me",
    });
    await kv.patchData(path, { note: null }, { cas: 2 });
    expect(await a.readData("secret", path)).toEqual({
      api_key: "new",
      previous_key: "old",
      client_id: "id-1",
    });
    expect(((await caught(kv.patchData(path, { api_key: "x" }, { cas: 1 }))) as RotatorError).code).toBe(
      "VAULT_CAS_CONFLICT",
    );
  });

  it("fails a data patch of a missing key with VAULT_NOT_FOUND", async () => {
    const err = (await caught(kv.patchData(`${base}/patch/missing`, { a: "b" }, { cas: 1 }))) as RotatorError;
    expect(err.code).toBe("VAULT_NOT_FOUND");
    expect(err.message).toBe(`PATCH secret/data/${base}/patch/missing → HTTP 404: no such key`);
  });

  it("merges custom_metadata with a metadata patch, null removing a key, without a new version", async () => {
    const path = `${base}/patch/meta`;
    await a.seedKv("secret", path, { v: 1 }, { owner: "team-a", rotate: "true", provider: "salesforce" });
    await kv.patchMetadata(path, { rotation_verified_at: "2026-01-01T00:00:00Z", rotate: null });
    const meta = await a.readMetadata("secret", path);
    expect(meta.custom_metadata).toEqual({
      owner: "team-a",
      provider: "salesforce",
      rotation_verified_at: "2026-01-01T00:00:00Z",
    });
    expect(meta.current_version).toBe(1);
    const missing = (await caught(kv.patchMetadata(`${base}/patch/none`, { a: "b" }))) as RotatorError;
    expect(missing.code).toBe("VAULT_NOT_FOUND");
  });

  it("deletes its own state entries and refuses anything outside the state prefix", async () => {
    const state = `${base}/state/lock-1`;
    await a.seedKv("secret", state, { holder: "me" });
    await kv.deleteStateEntry(state);
    expect((await a.request("GET", `secret/metadata/${state}`)).status).toBe(404);

    const outside = `${base}/tree/one`;
    for (const p of [outside, `${base}/state`, `${base}/state/../tree/one`, `${base}/statefoo/x`]) {
      const err = (await caught(kv.deleteStateEntry(p))) as RotatorError;
      expect(err.code).toBe("VAULT_NOT_MANAGED");
    }
    expect((await a.request("GET", `secret/metadata/${outside}`)).status).toBe(200);
    const noPrefix = new KvV2Class(client, "secret");
    expect(((await caught(noPrefix.deleteStateEntry(state))) as RotatorError).code).toBe("VAULT_NOT_MANAGED");
  });

  it("handles keys with spaces and other characters that need URL encoding", async () => {
    const path = `${base}/odd/with space/ümlaut&?#`;
    await kv.writeData(path, { v: "x" }, { cas: 0 });
    expect((await kv.readData(path))?.data).toEqual({ v: "x" });
    expect(await kv.list(`${base}/odd/with space`)).toEqual(["ümlaut&?#"]);
  });

  it("refuses a KV v1 mount with VAULT_NOT_KV_V2 before touching it", async () => {
    const mount = uniqueName("kv1");
    await a.mountKv(mount, 1);
    const v1 = new KvV2Class(client, mount);
    for (const call of [
      () => v1.list("x"),
      () => v1.readMetadata("x"),
      () => v1.writeData("x", { a: 1 }, { cas: 0 }),
    ]) {
      const err = (await caught(call)) as RotatorError;
      expect(err.code).toBe("VAULT_NOT_KV_V2");
      expect(err.message).toBe(`"${mount}" is a KV version 1 mount, not KV version 2`);
    }
    expect((await a.request("LIST", `${mount}/`)).status).toBe(404); // nothing was written into it
  });

  it("refuses a mount that does not exist, and a path inside a mount, with one clear line", async () => {
    const missing = (await caught(new KvV2Class(client, "no-such-mount-here").list(""))) as RotatorError;
    expect(missing.code).toBe("VAULT_NOT_KV_V2");
    expect(missing.message).toContain('"no-such-mount-here" is not a KV v2 mount');
    expect(missing.message).toContain("does not exist");
    expect(missing.message).not.toContain("\n");
    const nested = (await caught(new KvV2Class(client, `secret/${base}`).list(""))) as RotatorError;
    expect(nested.code).toBe("VAULT_NOT_KV_V2");
    expect(nested.message).toContain('inside the mount "secret"');
  });

  it("reports whether the server offers detailed-metadata listing, folders apart", async () => {
    const listing = await kv.listDetailed(`${base}/tree`);
    expect(listing).toBeDefined();
    expect(listing?.folders).toEqual(["sub/"]);
    expect([...(listing?.entries.keys() ?? [])].sort()).toEqual(["one", "sub", "two"]);
    expect(listing?.entries.get("one")?.currentVersion).toBe(1);
    expect((await kv.listDetailedMetadata(`${base}/nothing-here`))?.size).toBe(0);
  });
});
