// followUpScan against the real server: a provider=manual credential is adopted on first sight, a new value written
// with the KV API is recorded once (metadata stamped, one chat message even with two replicas sharing the Vault
// dedup store), metadata-only changes and deleted versions change nothing, and overdue reminders repeat once per
// period. Secret values never appear in metadata, chat or results.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SlackWebhookTarget } from "../../src/adapters/chat/slack-webhook.ts";
import { KvV2, VaultCredentialStore, VaultMetadataSource } from "../../src/adapters/vault/kv-v2.ts";
import type { VaultClient } from "../../src/adapters/vault/vault-client.ts";
import { ChatNotifier } from "../../src/app/chat-notifier.ts";
import { followUpScan, type ScanFollowUpDeps } from "../../src/app/manual-tracker.ts";
import { VaultDedupStore } from "../../src/app/vault-dedup-store.ts";
import { collectInventory } from "../../src/core/inventory/collect-inventory.ts";
import { CHAT_EVENT_KINDS } from "../../src/core/notify/chat-event.ts";
import { SecretValue } from "../../src/core/secret-value.ts";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "../../src/core/time.ts";
import { rootClient } from "../adapters/vault/vault-test-kit.ts";
import { admin, uniqueName } from "../support/vault-admin.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.ts";

const MOUNT = "secret";
const CANARY_OLD = "test-secret-canary-manual-old-91c4";
const CANARY_NEW = "test-secret-canary-manual-new-5d2e";
const DEFAULTS = { warningWindowMs: 14 * DAY_MS, stuckAfterMs: HOUR_MS, soakMs: 15 * MINUTE_MS };
const WEEK = 7 * DAY_MS;
const MANUAL = {
  provider: "manual",
  credential_type: "api_key",
  rotation_period: "90d",
  consumers: "billing-api",
  rotation_contact: "#payments",
};

const a = admin();
const prefix = uniqueName("manual-tracker");
const statePrefix = `${prefix}-state`;
let client: VaultClient;
let kv: KvV2;
let rx: WebhookReceiver;
const notifiers: ChatNotifier[] = [];

beforeAll(async () => {
  client = await rootClient();
  kv = new KvV2(client, MOUNT, { statePrefix });
  rx = await startWebhookReceiver();
});
afterAll(async () => {
  for (const n of notifiers) await n.close();
  await rx.close();
  await client.close();
});

/** One replica: its own notifier and dedup store object, sharing the dedup entries in Vault with the others. */
function replica(): ScanFollowUpDeps {
  const target = new SlackWebhookTarget({
    name: "slack",
    url: SecretValue.of(`${rx.url}/slack`),
    timeoutMs: 2_000,
    maxRetries: 0,
    sleep: async () => {},
  });
  const chat = new ChatNotifier({
    targets: [{ target, events: new Set(CHAT_EVENT_KINDS) }],
    dedup: new VaultDedupStore(kv, statePrefix),
    lookup: () => undefined,
  });
  notifiers.push(chat);
  return {
    store: new VaultCredentialStore(kv, { prefixes: [prefix] }),
    chat,
    overdueRepeatMs: WEEK,
  };
}

async function scan(folder: string, at = new Date()) {
  const source = new VaultMetadataSource(kv, { listing: "auto", concurrency: 4 });
  return (await collectInventory(source, [`${prefix}/${folder}`], at, DEFAULTS)).items;
}

async function metadataOf(path: string) {
  const body = (await a.must("GET", `${MOUNT}/metadata/${path}`)) as {
    data: {
      custom_metadata: Record<string, string>;
      current_version: number;
      updated_time: string;
      versions: Record<string, { created_time: string }>;
    };
  };
  return body.data;
}

async function patchMetadata(path: string, custom: Record<string, string | null>) {
  await a.must(
    "PATCH",
    `${MOUNT}/metadata/${path}`,
    { custom_metadata: custom },
    { "Content-Type": "application/merge-patch+json" },
  );
}

/** Requests for this folder's credential only (the receiver is shared by the tests in this file). */
function messagesAbout(path: string) {
  return rx.requests.filter((r) => r.rawBody.includes(path));
}

function expectNoCanary(...things: unknown[]) {
  const text = JSON.stringify(things) + rx.requests.map((r) => r.rawBody).join("\n");
  expect(text).not.toContain(CANARY_OLD);
  expect(text).not.toContain(CANARY_NEW);
}

describe("followUpScan with provider=manual", () => {
  it("adopts a new manual credential silently, then records a new value once across two replicas", async () => {
    const path = `${prefix}/pay/gateway`;
    await a.seedKv(MOUNT, path, { api_key: CANARY_OLD }, MANUAL);
    const [r1, r2] = [replica(), replica()];

    const adoptedRun = await followUpScan(await scan("pay"), new Date(), r1);
    expect(adoptedRun.manual.adopted.map((x) => x.path)).toEqual([path]);
    expect(adoptedRun.manual.recorded).toEqual([]);
    const v1 = await metadataOf(path);
    const v1Created = new Date(v1.versions["1"]?.created_time ?? "").toISOString();
    expect(v1.custom_metadata).toMatchObject({
      last_rotated: v1Created,
      rotation_verified_at: v1Created,
      next_rotation_due: new Date(Date.parse(v1Created) + 90 * DAY_MS).toISOString(),
    });

    // The operator rotates at the provider, writes the new value, and had also asked for a rotation.
    await a.must("POST", `${MOUNT}/data/${path}`, { data: { api_key: CANARY_NEW } });
    await patchMetadata(path, { rotate: "now", rotate_reason: "vendor notice" });
    const items = await scan("pay");
    const [x, y] = await Promise.all([
      followUpScan(items, new Date(), r1),
      followUpScan(items, new Date(), r2),
    ]);
    expect(x.manual.recorded.length + y.manual.recorded.length).toBe(2); // both stamp: harmless, same values
    const v2 = await metadataOf(path);
    expect(v2.current_version).toBe(2);
    const v2Created = new Date(v2.versions["2"]?.created_time ?? "").toISOString();
    expect(v2.custom_metadata).toEqual({
      ...MANUAL,
      last_rotated: v2Created,
      rotation_verified_at: v2Created,
      next_rotation_due: new Date(Date.parse(v2Created) + 90 * DAY_MS).toISOString(),
      rotation_state: "idle",
    });

    await rx.waitFor(1);
    const about = messagesAbout(path);
    expect(about).toHaveLength(1);
    expect(about[0]?.rawBody).toContain(`Recorded a manual rotation of ${path}: KV version 2`);

    // Nothing more to do: no stamp, no message, the metadata untouched.
    const again = await followUpScan(await scan("pay"), new Date(), r2);
    expect(again.manual).toEqual({ recorded: [], adopted: [], failed: [] });
    expect((await metadataOf(path)).updated_time).toBe(v2.updated_time);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(messagesAbout(path)).toHaveLength(1);
    expectNoCanary(v1, v2, x, y, again);
  });

  it("records nothing for metadata-only changes or a deleted current version", async () => {
    const path = `${prefix}/meta/crm`;
    await a.seedKv(MOUNT, path, { api_key: CANARY_OLD }, MANUAL);
    const r = replica();
    await followUpScan(await scan("meta"), new Date(), r);
    const stamped = await metadataOf(path);

    await patchMetadata(path, { consumers: "billing-api, crm-sync", rotation_contact: "#crm" });
    const afterPatch = await followUpScan(await scan("meta"), new Date(), r);
    expect(afterPatch.manual).toEqual({ recorded: [], adopted: [], failed: [] });
    expect((await metadataOf(path)).custom_metadata["last_rotated"]).toBe(
      stamped.custom_metadata["last_rotated"],
    );

    await a.must("POST", `${MOUNT}/data/${path}`, { data: { api_key: CANARY_NEW } });
    await a.must("POST", `${MOUNT}/delete/${path}`, { versions: [2] });
    const items = await scan("meta");
    expect(items[0]?.state).toBe("invalid");
    const afterDelete = await followUpScan(items, new Date(), r);
    expect(afterDelete.manual).toEqual({ recorded: [], adopted: [], failed: [] });
    expect((await metadataOf(path)).custom_metadata["last_rotated"]).toBe(
      stamped.custom_metadata["last_rotated"],
    );
    expect(messagesAbout(path)).toHaveLength(0);
    expectNoCanary(afterPatch, afterDelete);
  });

  it("sends an overdue message at the deadline and one reminder per overdue_repeat period after it", async () => {
    const path = `${prefix}/late/erp`;
    const last = new Date(Date.now() - 100 * DAY_MS).toISOString();
    await a.seedKv(MOUNT, path, { api_key: CANARY_OLD });
    const written = (await metadataOf(path)).versions["1"]?.created_time ?? "";
    // The current version is accounted for (nothing to record); the operator's last_rotated is 100 days old.
    await patchMetadata(path, { ...MANUAL, last_rotated: last, rotation_verified_at: written });
    const deadline = Date.parse(last) + 90 * DAY_MS;
    const r = replica();
    const at = async (msAfterDeadline: number) => {
      const when = new Date(deadline + msAfterDeadline);
      await followUpScan(await scan("late", when), when, r);
    };
    await at(HOUR_MS);
    await at(2 * DAY_MS);
    await rx.waitFor(1);
    expect(messagesAbout(path)).toHaveLength(1);
    await at(WEEK + HOUR_MS);
    await at(WEEK + 3 * DAY_MS);
    await at(2 * WEEK + HOUR_MS);
    const texts = messagesAbout(path).map((m) => m.rawBody);
    expect(texts).toHaveLength(3);
    expect(texts[0]).toContain("Rotation overdue");
    expect(texts[0]).toContain("rotate it by hand at the provider now");
    expect(texts[1]).toContain("reminder 1");
    expect(texts[2]).toContain("reminder 2");

    // The owner finally writes the new value: recorded, and no overdue reminder from that scan's stale deadline.
    await a.must("POST", `${MOUNT}/data/${path}`, { data: { api_key: CANARY_NEW } });
    const when = new Date(deadline + 3 * WEEK + HOUR_MS);
    const done = await followUpScan(await scan("late", when), when, r);
    expect(done.manual.recorded.map((x) => x.path)).toEqual([path]);
    const after = messagesAbout(path).map((m) => m.rawBody);
    expect(after).toHaveLength(4);
    expect(after[3]).toContain("Recorded a manual rotation");
    expect(after.join("\n")).not.toContain("reminder 3");
    expectNoCanary(done);
  });
});
