// VaultStateStore on the real server: the RotationStateStore contract (each setup gets a fresh state prefix),
// the exact KV paths and fields it writes, corrupt records, and policies/rotator.hcl at the default prefix.
import { afterAll, describe, expect, it } from "vitest";
import { KvV2 } from "../../../src/adapters/vault/kv-v2.ts";
import type { VaultClient } from "../../../src/adapters/vault/vault-client.ts";
import { VaultStateStore } from "../../../src/adapters/vault/vault-state-store.ts";
import { toJournalFields } from "../../../src/core/rotation/journal-record.ts";
import {
  describeStateStoreContract,
  JOURNAL_CANARY,
  journalRecord,
} from "../../contract/state-store-contract.ts";
import { policyText } from "../../policies/policy-test-helpers.ts";
import { admin, uniqueName } from "../../support/vault-admin.ts";
import { rawEntry, seedVersion } from "./rotation-store-kit.ts";
import { caught, collect, connectWithToken, rootClient } from "./vault-test-kit.ts";

const MOUNT = "secret";

const clients: VaultClient[] = [];
afterAll(async () => {
  for (const c of clients) await c.close();
});

async function storeAt(statePrefix: string, token?: string): Promise<VaultStateStore> {
  const client = token === undefined ? await rootClient() : await connectWithToken(token);
  clients.push(client);
  return new VaultStateStore(new KvV2(client, MOUNT, { statePrefix }));
}

describeStateStoreContract("VaultStateStore", async () => ({ store: await storeAt(uniqueName("state")) }));

const lease = { owner: "replica-a", expiresAt: new Date("2026-03-01T10:05:00.000Z"), fence: 4 };

/** Journal fields as stored, with some of them replaced. */
function storedJournal(path: string, over: Record<string, unknown>): Record<string, unknown> {
  const fields = toJournalFields(journalRecord(path));
  const plain = Object.fromEntries(
    Object.entries(fields).map(([k, v]) => [k, typeof v === "string" ? v : v.reveal()]),
  );
  return { ...plain, ...over };
}

describe("VaultStateStore", () => {
  it("keeps journals at <state_prefix>/journal/<path> and leases at <state_prefix>/leases/<path>", async () => {
    const prefix = uniqueName("state");
    const store = await storeAt(prefix);
    const cred = "api-credentials/team-a/crm";
    await store.writeJournal(cred, journalRecord(cred), 0);
    await store.writeLease(cred, lease, 0);
    expect(store.journalPath(cred)).toBe(`${prefix}/journal/${cred}`);
    expect(store.leasePath(`/${cred}/`)).toBe(`${prefix}/leases/${cred}`);
    const j = await rawEntry(admin(), MOUNT, `${prefix}/journal/${cred}`);
    expect(j?.data["step"]).toBe("staged");
    expect(j?.data["new_secret"]).toBe(JOURNAL_CANARY); // Vault is where the new secret must live
    expect((await rawEntry(admin(), MOUNT, `${prefix}/leases/${cred}`))?.data).toEqual({
      owner: "replica-a",
      expires_at: "2026-03-01T10:05:00.000Z",
      fence: "4",
    });
  });

  it("reports a journal record that does not parse as corrupt, without its secret", async () => {
    const prefix = uniqueName("state");
    const store = await storeAt(prefix);
    const cred = "api-credentials/bad";
    await seedVersion(admin(), MOUNT, `${prefix}/journal/${cred}`, storedJournal(cred, { step: "dancing" }));
    const err = await caught(store.readJournal(cred));
    expect(err).toMatchObject({ code: "ROTATION_JOURNAL_CORRUPT" });
    expect(String(err)).toContain("step");
    expect(`${String(err)} ${JSON.stringify((err as { context: unknown }).context)}`).not.toContain(
      JOURNAL_CANARY,
    );
  });

  it("reports a journal record that names another credential as corrupt", async () => {
    const prefix = uniqueName("state");
    const store = await storeAt(prefix);
    const cred = "api-credentials/mine";
    await seedVersion(
      admin(),
      MOUNT,
      `${prefix}/journal/${cred}`,
      storedJournal(cred, { path: "api-credentials/theirs" }),
    );
    expect(await caught(store.readJournal(cred))).toMatchObject({ code: "ROTATION_JOURNAL_CORRUPT" });
    expect(await caught(store.writeJournal(cred, journalRecord("api-credentials/theirs"), 1))).toMatchObject({
      code: "INTERNAL_INVARIANT",
    });
  });

  it("reports a soft-deleted journal or lease as corrupt rather than absent", async () => {
    const prefix = uniqueName("state");
    const store = await storeAt(prefix);
    const cred = "api-credentials/soft";
    await store.writeJournal(cred, journalRecord(cred), 0);
    await store.writeLease(cred, lease, 0);
    await admin().must("DELETE", `${MOUNT}/data/${prefix}/journal/${cred}`);
    await admin().must("DELETE", `${MOUNT}/data/${prefix}/leases/${cred}`);
    expect(await caught(store.readJournal(cred))).toMatchObject({ code: "ROTATION_JOURNAL_CORRUPT" });
    expect(await caught(store.readLease(cred))).toMatchObject({ code: "ROTATION_JOURNAL_CORRUPT" });
    await store.deleteJournal(cred); // the way out: remove the key with all its versions
    expect(await store.readJournal(cred)).toBeUndefined();
  });

  it("reports a lease without a valid expiry or fence as corrupt", async () => {
    const prefix = uniqueName("state");
    const store = await storeAt(prefix);
    for (const [name, data] of [
      ["no-expiry", { owner: "a", expires_at: "soon", fence: "1" }],
      ["bad-fence", { owner: "a", expires_at: "2026-03-01T10:05:00Z", fence: "-1" }],
      ["no-owner", { expires_at: "2026-03-01T10:05:00Z", fence: "1" }],
    ] as const) {
      await seedVersion(admin(), MOUNT, `${prefix}/leases/api-credentials/${name}`, data);
      expect(await caught(store.readLease(`api-credentials/${name}`)), name).toMatchObject({
        code: "ROTATION_JOURNAL_CORRUPT",
      });
    }
  });

  it("refuses paths that would step out of the state folders", async () => {
    const store = await storeAt(uniqueName("state"));
    for (const bad of ["", "/", "api-credentials/../../x"]) {
      expect(await caught(store.readJournal(bad)), bad).toMatchObject({ code: "INTERNAL_INVARIANT" });
    }
  });

  it("needs a state prefix", async () => {
    const client = await rootClient();
    clients.push(client);
    expect(() => new VaultStateStore(new KvV2(client, MOUNT))).toThrow(/state prefix/);
  });

  it("does everything it needs with only policies/rotator.hcl at the default prefix", async () => {
    const a = admin();
    const name = uniqueName("rotator");
    await a.writePolicy(name, policyText("rotator.hcl"));
    const token = await a.createToken({ policies: [name], noDefaultPolicy: true });
    const store = await storeAt("eca-rotator", token);
    const u = uniqueName("policy");
    const creds = [`api-credentials/${u}/crm`, `api-credentials/${u}/team/erp`];
    for (const cred of creds) {
      const v1 = await store.writeJournal(cred, journalRecord(cred, { step: "claimed" }), 0);
      await store.writeJournal(cred, journalRecord(cred, { step: "staged" }), v1);
      expect((await store.readJournal(cred))?.value.step).toBe("staged");
      const l1 = await store.writeLease(cred, lease, 0);
      await store.writeLease(cred, { ...lease, fence: 5 }, l1);
      expect((await store.readLease(cred))?.value.fence).toBe(5);
    }
    const mine = (await collect(store.listJournals())).filter((p) => p.includes(u)).sort();
    expect(mine).toEqual(creds);
    for (const cred of creds) {
      await store.deleteJournal(cred);
      await store.deleteLease(cred);
      expect(await store.readJournal(cred)).toBeUndefined();
      expect(await store.readLease(cred)).toBeUndefined();
      expect(await store.writeJournal(cred, journalRecord(cred), 0)).toBe(1);
      await store.deleteJournal(cred);
    }
    expect((await collect(store.listJournals())).filter((p) => p.includes(u))).toEqual([]);
  });
});
