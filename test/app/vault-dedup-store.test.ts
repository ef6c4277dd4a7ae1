// VaultDedupStore on the real server: entries at <state_prefix>/notified/<sha256>, exactly one winner when
// replicas race for a key (fresh or stale), reclaim after the ttl, and release that never undoes a newer claim.
import { createHash } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { KvV2 } from "../../src/adapters/vault/kv-v2.ts";
import { VaultDedupStore } from "../../src/app/vault-dedup-store.ts";
import { FixedClock } from "../../src/core/time.ts";
import { connectWithToken, rootKv } from "../adapters/vault/vault-test-kit.ts";
import { policyText } from "../policies/policy-test-helpers.ts";
import { admin, uniqueName } from "../support/vault-admin.ts";

const MOUNT = "secret";
const TTL = 60_000;
const kvs: KvV2[] = [];
afterAll(async () => {
  for (const kv of kvs) await kv.client.close();
});

/** `count` stores on separate connections (as separate replicas would be), sharing one prefix and clock. */
async function replicas(count: number, clock = new FixedClock("2026-03-02T09:00:00.000Z")) {
  const prefix = uniqueName("dedup");
  const stores: VaultDedupStore[] = [];
  for (let i = 0; i < count; i++) {
    const kv = await rootKv(MOUNT);
    kvs.push(kv);
    stores.push(new VaultDedupStore(kv, prefix, clock));
  }
  return { prefix, stores, clock };
}

async function entry(path: string): Promise<Record<string, unknown> | undefined> {
  const res = await admin().request("GET", `${MOUNT}/data/${path}`);
  if (res.status === 404) return undefined;
  return (res.body as { data: { data: Record<string, unknown> } }).data.data;
}

describe("VaultDedupStore", () => {
  it("grants the first claim, stored at <state_prefix>/notified/<sha256 of the key>", async () => {
    const { prefix, stores } = await replicas(1);
    const store = stores[0]!;
    const key = "credential.overdue:api-credentials/team-a/crm:2026-03-01T00:00:00.000Z";
    expect(await store.claim(key, TTL)).toBe(true);
    expect(await store.claim(key, TTL)).toBe(false);
    const hash = createHash("sha256").update(key).digest("hex");
    expect(store.entryPath(key)).toBe(`${prefix}/notified/${hash}`);
    expect(await entry(`${prefix}/notified/${hash}`)).toEqual({
      key,
      claimed_at: "2026-03-02T09:00:00.000Z",
      released: "",
    });
  });

  it("lets exactly one of several racing replicas claim each key", async () => {
    const { stores } = await replicas(4);
    const keys = Array.from({ length: 8 }, (_, i) => `rotation.completed:api-credentials/p${i}:rot-${i}`);
    const results = await Promise.all(keys.map((k) => Promise.all(stores.map((s) => s.claim(k, TTL)))));
    for (const perKey of results) expect(perKey.filter(Boolean)).toHaveLength(1);
  });

  it("reclaims a key once its claim is older than the ttl, again with exactly one winner", async () => {
    const { stores, clock } = await replicas(3);
    const key = "report.weekly:2026-W10";
    expect(await stores[0]!.claim(key, TTL)).toBe(true);
    clock.advance(TTL - 1);
    expect(await Promise.all(stores.map((s) => s.claim(key, TTL)))).toEqual([false, false, false]);
    clock.advance(1);
    const again = await Promise.all(stores.map((s) => s.claim(key, TTL)));
    expect(again.filter(Boolean)).toHaveLength(1);
  });

  it("lets another replica claim a released key", async () => {
    const { stores } = await replicas(2);
    const key = "credential.due_soon:x:2026-04-01T00:00:00.000Z";
    expect(await stores[0]!.claim(key, TTL)).toBe(true);
    await stores[0]!.release(key);
    expect(await stores[1]!.claim(key, TTL)).toBe(true);
    expect(await stores[0]!.claim(key, TTL)).toBe(false);
  });

  it("never releases a claim another replica made after ours", async () => {
    const { stores, clock } = await replicas(2);
    const key = "credential.overdue:y:2026-04-01T00:00:00.000Z";
    expect(await stores[0]!.claim(key, TTL)).toBe(true);
    clock.advance(TTL);
    expect(await stores[1]!.claim(key, TTL)).toBe(true);
    await stores[0]!.release(key); // its version is stale: a no-op
    expect((await entry(stores[0]!.entryPath(key)))?.["released"]).toBe("");
    expect(await stores[0]!.claim(key, TTL)).toBe(false);
  });

  it("reclaims a key whose entry someone soft-deleted", async () => {
    const { stores } = await replicas(1);
    const key = "report.weekly:2026-W11";
    expect(await stores[0]!.claim(key, TTL)).toBe(true);
    await admin().must("DELETE", `${MOUNT}/data/${stores[0]!.entryPath(key)}`);
    expect(await stores[0]!.claim(key, TTL)).toBe(true);
  });

  it("handles keys with slashes, spaces and non-ASCII characters", async () => {
    const { stores } = await replicas(1);
    const key = "rotation.failed:api credentials/équipe-ä/../crm?x=1:rot-1";
    expect(await stores[0]!.claim(key, TTL)).toBe(true);
    expect(await stores[0]!.claim(key, TTL)).toBe(false);
  });

  it("claims and releases with only policies/rotator.hcl at the default state prefix", async () => {
    const a = admin();
    const name = uniqueName("rotator");
    await a.writePolicy(name, policyText("rotator.hcl"));
    const token = await a.createToken({ policies: [name], noDefaultPolicy: true });
    const client = await connectWithToken(token);
    const kv = new KvV2(client, MOUNT);
    kvs.push(kv);
    const store = new VaultDedupStore(kv, "eca-rotator");
    const key = `rotation.completed:api-credentials/${uniqueName("p")}:rot-1`;
    expect(await store.claim(key, TTL)).toBe(true);
    expect(await store.claim(key, TTL)).toBe(false);
    await store.release(key);
    expect(await store.claim(key, TTL)).toBe(true);
  });
});
