// The RotationStateStore contract (src/core/rotation/rotation-ports.ts): journal records and leases, written
// with check-and-set. Run against the real Vault adapter (test/adapters/vault/vault-state-store.test.ts) and
// against the in-memory fake.
import { describe, expect, it } from "vitest";
import { isRotatorError } from "../../src/core/errors.ts";
import type { JournalRecord } from "../../src/core/rotation/journal-record.ts";
import type { Lease, RotationStateStore } from "../../src/core/rotation/rotation-ports.ts";
import { SecretValue } from "../../src/core/secret-value.ts";

interface StateStoreFixture {
  /** A store whose state is empty (a fresh state prefix, or a fresh fake). */
  readonly store: RotationStateStore;
}

export type StateStoreSetup = () => Promise<StateStoreFixture>;

export const JOURNAL_CANARY = "test-secret-canary-journal-new-secret";

export function journalRecord(path: string, over: Partial<JournalRecord> = {}): JournalRecord {
  return {
    rotationId: "rot-1",
    path,
    provider: "salesforce-eca",
    mode: "standard",
    trigger: "flag",
    actor: "operator-flag",
    reason: "INC-9",
    step: "staged",
    fence: 3,
    owner: "replica-a",
    attempts: 0,
    startedAt: new Date("2026-03-01T10:00:00.000Z"),
    updatedAt: new Date("2026-03-01T10:00:05.000Z"),
    kvVersionRead: 7,
    kvVersionPublished: undefined,
    target: { connection: "prod", appId: "0xIWt0000003lOzMAI", consumerId: "888Wt00000001IAAA" },
    oldClientId: "3MVGold",
    stagedId: "0ugWt00000000w5",
    newClientId: "3MVGnew",
    newSecret: SecretValue.of(JOURNAL_CANARY),
    promoteAfter: new Date("2026-03-01T10:15:00.000Z"),
    promotedAt: undefined,
    lastError: undefined,
    ...over,
  };
}

const lease: Lease = { owner: "replica-a", expiresAt: new Date("2026-03-01T10:05:00.000Z"), fence: 4 };

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection, but the call succeeded");
}

function expectConflict(err: unknown): void {
  expect(isRotatorError(err) ? err.code : err).toBe("VAULT_CAS_CONFLICT");
  expect(`${String(err)} ${JSON.stringify(isRotatorError(err) ? err.context : {})}`).not.toContain(
    JOURNAL_CANARY,
  );
}

async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Compares records with the secret revealed (SecretValue instances are never equal by identity). */
function plain(r: JournalRecord | undefined): unknown {
  return r === undefined ? undefined : { ...r, newSecret: r.newSecret?.reveal() };
}

export function describeStateStoreContract(name: string, setup: StateStoreSetup): void {
  describe(`RotationStateStore contract: ${name}`, () => {
    it("reads no journal and no lease for a credential that has none", async () => {
      const { store } = await setup();
      expect(await store.readJournal("api-credentials/none")).toBeUndefined();
      expect(await store.readLease("api-credentials/none")).toBeUndefined();
      expect(await collect(store.listJournals())).toEqual([]);
    });

    it("creates a journal record with cas 0 and reads it back whole, new secret included", async () => {
      const { store } = await setup();
      const p = "api-credentials/crm";
      const v = await store.writeJournal(p, journalRecord(p), 0);
      const got = await store.readJournal(p);
      expect(got?.version).toBe(v);
      expect(plain(got?.value)).toEqual(plain(journalRecord(p)));
      expect(got?.value.newSecret?.reveal()).toBe(JOURNAL_CANARY);
    });

    it("updates a journal only with the version read; a stale or repeated create is a CAS conflict", async () => {
      const { store } = await setup();
      const p = "api-credentials/cas";
      const v1 = await store.writeJournal(p, journalRecord(p, { step: "staging" }), 0);
      expectConflict(await rejection(store.writeJournal(p, journalRecord(p), 0)));
      const v2 = await store.writeJournal(p, journalRecord(p, { step: "staged" }), v1);
      expect(v2).toBeGreaterThan(v1);
      expectConflict(await rejection(store.writeJournal(p, journalRecord(p, { step: "verified" }), v1)));
      const got = await store.readJournal(p);
      expect(got?.version).toBe(v2);
      expect(got?.value.step).toBe("staged");
    });

    it("lets exactly one of two concurrent journal writes with the same cas win", async () => {
      const { store } = await setup();
      const p = "api-credentials/race";
      const results = await Promise.allSettled([
        store.writeJournal(p, journalRecord(p, { owner: "replica-a" }), 0),
        store.writeJournal(p, journalRecord(p, { owner: "replica-b" }), 0),
      ]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
      expectConflict(lost.reason);
    });

    it("deletes a journal with all its versions, so it can be created again with cas 0", async () => {
      const { store } = await setup();
      const p = "api-credentials/again";
      const v1 = await store.writeJournal(p, journalRecord(p, { step: "claimed" }), 0);
      await store.writeJournal(p, journalRecord(p, { step: "inspected" }), v1);
      await store.deleteJournal(p);
      expect(await store.readJournal(p)).toBeUndefined();
      expect(await collect(store.listJournals())).toEqual([]);
      const v = await store.writeJournal(p, journalRecord(p, { rotationId: "rot-2", step: "claimed" }), 0);
      const got = await store.readJournal(p);
      expect(got?.version).toBe(v);
      expect(got?.value.rotationId).toBe("rot-2");
    });

    it("deleting a journal or lease that does not exist is not an error", async () => {
      const { store } = await setup();
      await store.deleteJournal("api-credentials/never");
      await store.deleteLease("api-credentials/never");
    });

    it("lists the credential paths that have a journal, however deeply nested", async () => {
      const { store } = await setup();
      const paths = ["api-credentials/a", "api-credentials/team/deep/b", "other-prefix/c"];
      for (const p of paths) await store.writeJournal(p, journalRecord(p), 0);
      await store.writeLease("api-credentials/leased-only", lease, 0);
      expect((await collect(store.listJournals())).sort()).toEqual(paths);
      await store.deleteJournal("api-credentials/team/deep/b");
      expect((await collect(store.listJournals())).sort()).toEqual(["api-credentials/a", "other-prefix/c"]);
    });

    it("round-trips a lease and guards it with cas", async () => {
      const { store } = await setup();
      const p = "api-credentials/lease";
      const v1 = await store.writeLease(p, lease, 0);
      const got = await store.readLease(p);
      expect(got).toEqual({ value: lease, version: v1 });
      expectConflict(await rejection(store.writeLease(p, { ...lease, owner: "replica-b" }, 0)));
      const renewed = { ...lease, expiresAt: new Date("2026-03-01T10:06:00.000Z") };
      const v2 = await store.writeLease(p, renewed, v1);
      expectConflict(await rejection(store.writeLease(p, { ...lease, fence: 5 }, v1)));
      expect(await store.readLease(p)).toEqual({ value: renewed, version: v2 });
      await store.deleteLease(p);
      expect(await store.readLease(p)).toBeUndefined();
      const v = await store.writeLease(p, { ...lease, fence: 5 }, 0);
      expect((await store.readLease(p))?.version).toBe(v);
    });

    it("creates a consumer's owner record once with cas 0, guards it with cas and reads it back", async () => {
      const { store } = await setup();
      const key = "salesforce-eca/00DWt0000000OrgAAA/0xIWt0000003lOzMAI/888Wt000000O8CXIA0";
      expect(await store.readOwner(key)).toBeUndefined();
      const owner = {
        path: "api-credentials/team-a/crm",
        since: new Date("2026-03-01T10:00:00.000Z"),
        subject: "Salesforce org 00DWt0000000OrgAAA, app 0xIWt0000003lOzMAI, consumer 888Wt000000O8CXIA0",
      };
      const v1 = await store.writeOwner(key, owner, 0);
      expect(await store.readOwner(key)).toEqual({
        value: { ...owner, adoptedFrom: undefined },
        version: v1,
      });
      // A second path racing to become the owner loses: cas 0 on an existing record.
      expectConflict(
        await rejection(store.writeOwner(key, { ...owner, path: "api-credentials/team-b/x" }, 0)),
      );
      const adopted = { ...owner, path: "api-credentials/team-a/crm-v2", adoptedFrom: owner.path };
      const v2 = await store.writeOwner(key, adopted, v1);
      expectConflict(await rejection(store.writeOwner(key, owner, v1)));
      expect(await store.readOwner(key)).toEqual({ value: adopted, version: v2 });
      // Owners are not journals: they never show up as unfinished rotations.
      expect(await collect(store.listJournals())).toEqual([]);
    });

    it("keeps a credential's journal and lease apart", async () => {
      const { store } = await setup();
      const p = "api-credentials/both";
      await store.writeJournal(p, journalRecord(p), 0);
      await store.writeLease(p, lease, 0);
      await store.deleteLease(p);
      expect((await store.readJournal(p))?.value.rotationId).toBe("rot-1");
      await store.writeLease(p, lease, 0);
      await store.deleteJournal(p);
      expect((await store.readLease(p))?.value).toEqual(lease);
    });
  });
}
