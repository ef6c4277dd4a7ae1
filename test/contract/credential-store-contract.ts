// The CredentialStore contract (src/core/rotation/rotation-ports.ts) as a reusable suite: run it against the
// real Vault adapter (test/adapters/vault/vault-credential-store.test.ts) and against the in-memory fake, so
// the fake the engine's unit tests use keeps the real store's semantics.
import { describe, expect, it } from "vitest";
import { isRotatorError } from "../../src/core/errors.ts";
import type { CredentialStore } from "../../src/core/rotation/rotation-ports.ts";
import { SecretValue } from "../../src/core/secret-value.ts";

/** What the store holds for one entry, as stored (secrets in plain text). */
export interface RawEntry {
  readonly version: number;
  readonly data: Readonly<Record<string, string>>;
  readonly customMetadata: Readonly<Record<string, string>>;
}

export interface CredentialStoreFixture {
  readonly store: CredentialStore;
  /** A fresh path (unique to this setup call) for a managed-credential name such as "crm" or "team/crm". */
  path(name: string): string;
  /** Writes a new version of `path` with exactly `data` and sets its custom_metadata; returns the version. */
  seed(path: string, data: Record<string, string>, customMetadata: Record<string, string>): Promise<number>;
  /** Soft-deletes the current version (what `kv delete` does). */
  deleteCurrentVersion(path: string): Promise<void>;
  /** The current version as stored, bypassing the store under test; undefined when absent or deleted. */
  raw(path: string): Promise<RawEntry | undefined>;
}

export type CredentialStoreSetup = () => Promise<CredentialStoreFixture>;

export const CANARY_OLD = "test-secret-canary-old-key";
export const CANARY_NEW = "test-secret-canary-new-key";

export const MANAGED = { provider: "salesforce-eca", eca_app_id: "0xIWt0000003lOzMAI" };

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection, but the call succeeded");
}

function expectCode(err: unknown, code: string): void {
  expect(isRotatorError(err) ? err.code : err).toBe(code);
  const text = `${String(err)} ${JSON.stringify(isRotatorError(err) ? err.context : {})}`;
  expect(text).not.toContain(CANARY_OLD);
  expect(text).not.toContain(CANARY_NEW);
}

export function describeCredentialStoreContract(name: string, setup: CredentialStoreSetup): void {
  describe(`CredentialStore contract: ${name}`, () => {
    it("reads undefined for an entry that does not exist", async () => {
      const f = await setup();
      expect(await f.store.read(f.path("missing"))).toBeUndefined();
    });

    it("reads the current version with secret fields as SecretValue and the others as strings", async () => {
      const f = await setup();
      const p = f.path("crm");
      await f.seed(p, { client_id: "3MVGa", api_key: "test-secret-a" }, MANAGED);
      const v2 = await f.seed(
        p,
        {
          client_id: "3MVGb",
          api_key: CANARY_OLD,
          previous_client_id: "3MVGa",
          previous_key: "test-secret-a",
          client_secret: "test-secret-c",
          rotated_at: "2026-01-01T00:00:00Z",
        },
        { ...MANAGED, team: "sales" },
      );
      const got = await f.store.read(p);
      expect(got?.version).toBe(v2);
      expect(got?.customMetadata).toEqual({ ...MANAGED, team: "sales" });
      const data = got?.data ?? {};
      for (const k of ["api_key", "previous_key", "client_secret"]) {
        expect(data[k], k).toBeInstanceOf(SecretValue);
      }
      expect((data["api_key"] as SecretValue).reveal()).toBe(CANARY_OLD);
      expect(data["client_id"]).toBe("3MVGb");
      expect(data["previous_client_id"]).toBe("3MVGa");
      expect(data["rotated_at"]).toBe("2026-01-01T00:00:00Z");
      expect(JSON.stringify(got)).not.toContain(CANARY_OLD);
    });

    it("reads undefined when the current version is deleted", async () => {
      const f = await setup();
      const p = f.path("deleted");
      await f.seed(p, { client_id: "a", api_key: "test-secret-x" }, MANAGED);
      await f.deleteCurrentVersion(p);
      expect(await f.store.read(p)).toBeUndefined();
    });

    it("writes a new version that merges the given fields and keeps fields it does not name", async () => {
      const f = await setup();
      const p = f.path("team/merge");
      const v1 = await f.seed(
        p,
        { client_id: "old", api_key: CANARY_OLD, owner_note: "keep me", previous_key: "" },
        MANAGED,
      );
      const res = await f.store.writeFields(
        p,
        {
          client_id: "new",
          api_key: SecretValue.of(CANARY_NEW),
          previous_client_id: "old",
          previous_key: SecretValue.of(CANARY_OLD),
        },
        v1,
      );
      expect(res.version).toBe(v1 + 1);
      expect(await f.raw(p)).toEqual({
        version: v1 + 1,
        data: {
          client_id: "new",
          api_key: CANARY_NEW,
          previous_client_id: "old",
          previous_key: CANARY_OLD,
          owner_note: "keep me",
        },
        customMetadata: MANAGED,
      });
      const back = await f.store.read(p);
      expect(back?.version).toBe(v1 + 1);
      expect((back?.data["api_key"] as SecretValue | undefined)?.reveal()).toBe(CANARY_NEW);
    });

    it("refuses a write against a version that is no longer current, and changes nothing", async () => {
      const f = await setup();
      const p = f.path("stale");
      const v1 = await f.seed(p, { client_id: "a", api_key: CANARY_OLD }, MANAGED);
      const v2 = await f.seed(p, { client_id: "b", api_key: CANARY_OLD }, MANAGED);
      const err = await rejection(f.store.writeFields(p, { api_key: SecretValue.of(CANARY_NEW) }, v1));
      expectCode(err, "VAULT_CAS_CONFLICT");
      expect((await f.raw(p))?.version).toBe(v2);
      expect((await f.raw(p))?.data["api_key"]).toBe(CANARY_OLD);
    });

    it("lets exactly one of two concurrent writes against the same version win", async () => {
      const f = await setup();
      const p = f.path("race");
      const v1 = await f.seed(p, { client_id: "a", api_key: CANARY_OLD }, MANAGED);
      const results = await Promise.allSettled([
        f.store.writeFields(p, { client_id: "x" }, v1),
        f.store.writeFields(p, { client_id: "y" }, v1),
      ]);
      const won = results.filter((r) => r.status === "fulfilled");
      const lost = results.filter((r) => r.status === "rejected");
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expectCode((lost[0] as PromiseRejectedResult).reason, "VAULT_CAS_CONFLICT");
      expect((await f.raw(p))?.version).toBe(v1 + 1);
    });

    it("refuses to write an entry that is not managed (no provider), and changes nothing", async () => {
      const f = await setup();
      const p = f.path("unmanaged");
      const v1 = await f.seed(p, { client_id: "a", api_key: CANARY_OLD }, { team: "other" });
      expectCode(await rejection(f.store.writeFields(p, { client_id: "b" }, v1)), "VAULT_NOT_MANAGED");
      expectCode(await rejection(f.store.patchMetadata(p, { rotation_state: "idle" })), "VAULT_NOT_MANAGED");
      expect(await f.raw(p)).toEqual({
        version: v1,
        data: { client_id: "a", api_key: CANARY_OLD },
        customMetadata: { team: "other" },
      });
    });

    it("refuses to write an entry that does not exist", async () => {
      const f = await setup();
      const p = f.path("nowhere");
      expectCode(await rejection(f.store.writeFields(p, { client_id: "b" }, 1)), "VAULT_NOT_FOUND");
      expectCode(await rejection(f.store.patchMetadata(p, { rotation_state: "idle" })), "VAULT_NOT_FOUND");
      expect(await f.raw(p)).toBeUndefined();
    });

    it("merge-patches custom_metadata: null removes a key, other keys survive, no new version", async () => {
      const f = await setup();
      const p = f.path("meta");
      const v1 = await f.seed(
        p,
        { client_id: "a", api_key: CANARY_OLD },
        {
          ...MANAGED,
          rotate: "now",
          rotate_reason: "INC-1",
          owner_team: "payments",
        },
      );
      const patch = {
        rotate: null,
        rotate_reason: null,
        rotation_state: "idle",
        last_rotated: "2026-02-01T00:00:00Z",
      };
      await f.store.patchMetadata(p, patch);
      await f.store.patchMetadata(p, patch); // idempotent
      const raw = await f.raw(p);
      expect(raw?.version).toBe(v1);
      expect(raw?.customMetadata).toEqual({
        ...MANAGED,
        owner_team: "payments",
        rotation_state: "idle",
        last_rotated: "2026-02-01T00:00:00Z",
      });
      expect((await f.store.read(p))?.customMetadata).toEqual(raw?.customMetadata);
    });
  });
}
