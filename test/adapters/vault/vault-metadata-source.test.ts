import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvV2, VaultMetadataSource } from "../../../src/adapters/vault/kv-v2.ts";
import type { VaultClient } from "../../../src/adapters/vault/vault-client.ts";
import { RotatorError } from "../../../src/core/errors.ts";
import type { ScanItem } from "../../../src/core/inventory/kv-entry.ts";
import { admin, uniqueName, useVault } from "../../support/vault-admin.ts";
import {
  caught,
  collect,
  connectWithToken,
  type RecordingTransport,
  recordingTransport,
} from "./vault-test-kit.ts";

function byPath(items: ScanItem[]): ScanItem[] {
  const key = (i: ScanItem) => (i.kind === "entry" ? i.entry.path : i.path);
  return [...items].sort((x, y) => key(x).localeCompare(key(y)));
}

describe("VaultMetadataSource against the real server", () => {
  const a = admin();
  const base = uniqueName("scan");
  const FOLDERS = [
    `${base}`,
    `${base}/team-a`,
    `${base}/team-a/prod`,
    `${base}/team-b`,
    `${base}/team-b/x/y`,
  ];
  const keys: string[] = [];
  let counting: RecordingTransport;
  let client: VaultClient;

  beforeAll(async () => {
    // 50 entries across 5 folders (one folder, x/, holds only a sub-folder).
    const folderOf = (i: number) =>
      [`${base}`, `${base}/team-a`, `${base}/team-a/prod`, `${base}/team-b`, `${base}/team-b/x/y`][i % 5];
    for (let i = 0; i < 50; i++) keys.push(`${folderOf(i)}/cred-${String(i).padStart(2, "0")}`);
    await Promise.all(
      keys.map((k, i) =>
        a.seedKv(
          "secret",
          k,
          { api_key: `value-${i}` },
          i % 3 === 0 ? { provider: "salesforce", owner: `o${i}` } : undefined,
        ),
      ),
    );
    // A second version on some, a soft-deleted current version on one, a destroyed one on another.
    await a.seedKv("secret", keys[1] as string, { api_key: "v2" });
    await a.seedKv("secret", keys[2] as string, { api_key: "v2" });
    await a.must("DELETE", `secret/data/${keys[2]}`);
    await a.must("PUT", `secret/destroy/${keys[3]}`, { versions: [1] });
    counting = recordingTransport();
    client = await connectWithToken(useVault().token, { transport: counting.transport });
  });

  afterAll(async () => {
    await client.close();
    await counting.close();
  });

  async function scanWith(listing: "auto" | "detailed" | "per-key", concurrency = 4) {
    const kv = new KvV2(client, "secret");
    await kv.checkMount();
    const source = new VaultMetadataSource(kv, { listing, concurrency });
    const before = counting.calls.length;
    const items = await collect(source.scan(base));
    return { items, requests: counting.calls.slice(before), used: source.listingUsed };
  }

  it("gives the same entries in per-key and detailed mode, with version times and deletion flags", async () => {
    const perKey = await scanWith("per-key");
    const detailed = await scanWith("detailed");
    expect(perKey.used).toBe("per-key");
    expect(detailed.used).toBe("detailed");
    expect(perKey.items).toHaveLength(50);
    expect(perKey.items.every((i) => i.kind === "entry")).toBe(true);
    expect(byPath(detailed.items)).toEqual(byPath(perKey.items));

    const entries = new Map(
      perKey.items.map((i) => (i.kind === "entry" ? [i.entry.path, i.entry] : ["", undefined])),
    );
    const e1 = entries.get(keys[1] as string);
    expect(e1?.currentVersion).toBe(2);
    expect(e1?.currentVersionCreatedTime).not.toBe(e1?.createdTime);
    expect(e1?.currentVersionDeleted).toBe(false);
    expect(entries.get(keys[2] as string)?.currentVersionDeleted).toBe(true);
    expect(entries.get(keys[3] as string)?.currentVersionDeleted).toBe(true);
    expect(entries.get(keys[0] as string)?.customMetadata).toEqual({ provider: "salesforce", owner: "o0" });
    expect(entries.get(keys[4] as string)?.customMetadata).toEqual({});
  });

  it("costs at most one request per folder in detailed mode and one per folder plus one per key per-key", async () => {
    // Folders listed: the 5 holding keys plus team-b/x/ which only holds a folder.
    const folderCount = FOLDERS.length + 1;
    const detailed = await scanWith("detailed");
    expect(detailed.requests.every((r) => r.startsWith("LIST /v1/secret/detailed-metadata/"))).toBe(true);
    expect(detailed.requests.length).toBe(folderCount);
    const perKey = await scanWith("per-key", 8);
    expect(perKey.requests.filter((r) => r.startsWith("LIST")).length).toBe(folderCount);
    expect(perKey.requests.filter((r) => r.startsWith("GET")).length).toBe(50);
    expect(perKey.requests.length).toBeLessThanOrEqual(50 + folderCount);
  });

  it("uses detailed listing in auto mode on OpenBao", async () => {
    const auto = await scanWith("auto");
    expect(auto.used).toBe("detailed");
    expect(auto.items).toHaveLength(50);
  });

  it("yields nothing for a prefix that does not exist", async () => {
    const kv = new KvV2(client, "secret");
    for (const listing of ["auto", "detailed", "per-key"] as const) {
      expect(
        await collect(new VaultMetadataSource(kv, { listing, concurrency: 2 }).scan(`${base}-missing`)),
      ).toEqual([]);
    }
  });

  it("reports an entry the token may list but not read as unreadable, and goes on", async () => {
    const policy = uniqueName("scan-limited");
    const locked = `${base}/team-a/cred-01`;
    await a.writePolicy(
      policy,
      `path "secret/metadata/${base}/*" { capabilities = ["list", "read"] }
       path "secret/metadata/${locked}" { capabilities = ["list"] }`,
    );
    const limited = await connectWithToken(await a.createToken({ policies: [policy] }));
    try {
      const source = new VaultMetadataSource(new KvV2(limited, "secret"), {
        listing: "auto",
        concurrency: 4,
      });
      const items = await collect(source.scan(base));
      // auto falls back: this policy grants nothing on detailed-metadata/.
      expect(source.listingUsed).toBe("per-key");
      expect(items).toHaveLength(50);
      const bad = items.filter((i) => i.kind === "unreadable");
      expect(bad).toEqual([
        {
          kind: "unreadable",
          path: locked,
          code: "VAULT_PERMISSION_DENIED",
          message: `GET secret/metadata/${locked} → HTTP 403: permission denied`,
        },
      ]);
      const strict = new VaultMetadataSource(new KvV2(limited, "secret"), {
        listing: "detailed",
        concurrency: 4,
      });
      expect(((await caught(collect(strict.scan(base)))) as RotatorError).code).toBe(
        "VAULT_PERMISSION_DENIED",
      );
    } finally {
      await limited.close();
    }
  });

  it("reports a sub-folder it may not list as unreadable, but throws when the prefix itself cannot be listed", async () => {
    const policy = uniqueName("scan-folders");
    await a.writePolicy(
      policy,
      `path "secret/metadata/${base}/" { capabilities = ["list"] }
       path "secret/metadata/${base}/team-a/*" { capabilities = ["list", "read"] }
       path "secret/metadata/${base}/cred-*" { capabilities = ["read"] }`,
    );
    const limited = await connectWithToken(await a.createToken({ policies: [policy] }));
    try {
      const source = new VaultMetadataSource(new KvV2(limited, "secret"), {
        listing: "per-key",
        concurrency: 3,
      });
      const items = await collect(source.scan(base));
      const bad = items
        .filter((i) => i.kind === "unreadable")
        .map((i) => (i.kind === "unreadable" ? i.path : ""));
      expect(bad).toEqual([`${base}/team-b/`]);
      expect(items.filter((i) => i.kind === "entry")).toHaveLength(30);
      const err = (await caught(collect(source.scan(`${base}/team-b`)))) as RotatorError;
      expect(err).toBeInstanceOf(RotatorError);
      expect(err.code).toBe("VAULT_PERMISSION_DENIED");
    } finally {
      await limited.close();
    }
  });
});
