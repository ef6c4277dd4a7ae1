// The fake must behave like Salesforce's staged-credentials API as the simulator models it
// it, or the engine tests prove nothing. These pin the semantics the engine relies on.
import { describe, expect, it } from "vitest";
import { RotatorError } from "../../src/core/errors.ts";
import type { IssuerTarget } from "../../src/core/rotation/rotation-ports.ts";
import { SecretValue } from "../../src/core/secret-value.ts";
import { FixedClock } from "../../src/core/time.ts";
import { InMemoryCredentialIssuer, type RotateSemantics } from "./in-memory-credential-issuer.ts";
import { InMemoryCredentialStore } from "./in-memory-credential-store.ts";
import { InMemoryStateStore } from "./in-memory-state-store.ts";

function setup(semantics: RotateSemantics = "overlap", propagationDelayMs = 0) {
  const clock = new FixedClock("2026-03-02T10:00:00Z");
  const issuer = new InMemoryCredentialIssuer(clock, { semantics, propagationDelayMs });
  const c = issuer.addConsumer("App");
  const target: IssuerTarget = { connection: "prod", appId: c.appId, consumerId: c.consumerId };
  return { clock, issuer, target, old: { clientId: c.clientId, secret: c.secret } };
}

describe("InMemoryCredentialIssuer", () => {
  it("makes both pairs valid after POST staged, and refuses a second POST while one is active", async () => {
    const { issuer, target } = setup();
    const staged = await issuer.createStaged(target);
    expect(issuer.validPairs().map((p) => p.role)).toEqual(["main", "staged"]);
    await expect(issuer.createStaged(target)).rejects.toMatchObject({ code: "SALESFORCE_STAGED_CONFLICT" });
    expect(await issuer.listStaged(target)).toEqual([staged]);
  });

  it("overlap: the former main pair lingers as `rotated` until that record is deleted", async () => {
    const { issuer, target, old } = setup("overlap");
    const staged = await issuer.createStaged(target);
    await issuer.promote(target, staged.id);
    expect(await issuer.readMainKey(target)).toBe(staged.clientId);
    expect(await issuer.provePairDead("prod", old.clientId, SecretValue.of(old.secret))).toMatchObject({
      dead: false,
    });
    const [rotated] = await issuer.listStaged(target);
    expect(rotated).toMatchObject({ state: "rotated", clientId: old.clientId });
    await issuer.deleteStaged(target, rotated?.id ?? "");
    expect(await issuer.provePairDead("prod", old.clientId, SecretValue.of(old.secret))).toEqual({
      dead: true,
      answer: "invalid_client_id",
    });
  });

  it("immediate: the former main pair dies at promotion and the record keeps the new pair", async () => {
    const { issuer, target, old } = setup("immediate");
    const staged = await issuer.createStaged(target);
    await issuer.promote(target, staged.id);
    expect(await issuer.provePairDead("prod", old.clientId, SecretValue.of(old.secret))).toEqual({
      dead: true,
      answer: "invalid_client_id",
    });
    expect(await issuer.listStaged(target)).toMatchObject([{ state: "rotated", clientId: staged.clientId }]);
    expect(issuer.validPairs()).toHaveLength(1);
  });

  it("overlap-new-shown: the record shows the new pair while the former main pair lives until it is deleted", async () => {
    const { issuer, target, old } = setup("overlap-new-shown");
    const staged = await issuer.createStaged(target);
    await issuer.promote(target, staged.id);
    const [rotated] = await issuer.listStaged(target);
    expect(rotated).toMatchObject({ state: "rotated", clientId: staged.clientId });
    expect(issuer.validPairs().map((p) => [p.clientId, p.role])).toEqual([
      [staged.clientId, "main"],
      [old.clientId, "rotated"],
    ]);
    await issuer.deleteStaged(target, rotated?.id ?? "");
    expect(await issuer.provePairDead("prod", old.clientId, SecretValue.of(old.secret))).toEqual({
      dead: true,
      answer: "invalid_client_id",
    });
    expect(issuer.validPairs().map((p) => p.clientId)).toEqual([staged.clientId]);
  });

  it("deletes a rotated record (and the former pair in it) when a new set is staged", async () => {
    const { issuer, target, old } = setup("overlap");
    await issuer.promote(target, (await issuer.createStaged(target)).id);
    await issuer.createStaged(target);
    expect(await issuer.provePairDead("prod", old.clientId, SecretValue.of(old.secret))).toEqual({
      dead: true,
      answer: "invalid_client_id",
    });
  });

  it("lets a new pair log in only after the propagation delay, moving the clock while it waits", async () => {
    const { issuer, target, clock } = setup("overlap", 30_000);
    const staged = await issuer.createStaged(target);
    const secret = staged.secret ?? SecretValue.of("");
    expect(await issuer.verifyPair("prod", staged.clientId, secret, 10_000)).toMatchObject({ ok: false });
    expect(await issuer.verifyPair("prod", staged.clientId, secret, 60_000)).toMatchObject({ ok: true });
    expect(clock.now().toISOString()).toBe("2026-03-02T10:00:30.000Z");
  });

  it("commits a call before failing it when asked (an answer lost on the way back)", async () => {
    const { issuer, target } = setup();
    const lost = new RotatorError("SALESFORCE_UNAVAILABLE", "reset", { context: { uncertain: true } });
    issuer.failNext("createStaged", lost, { commit: true });
    await expect(issuer.createStaged(target)).rejects.toBe(lost);
    expect(await issuer.listStaged(target)).toHaveLength(1);
  });
});

describe("InMemoryCredentialStore and InMemoryStateStore", () => {
  it("writes a merged new version only at the expected version, and merge-patches metadata", async () => {
    const store = new InMemoryCredentialStore();
    store.put("p", { a: "1", api_key: "k" }, { provider: "salesforce-eca", x: "1" });
    await expect(store.writeFields("p", { a: "2" }, 0)).rejects.toMatchObject({ code: "VAULT_CAS_CONFLICT" });
    expect(await store.writeFields("p", { a: "2" }, 1)).toEqual({ version: 2 });
    await store.patchMetadata("p", { x: null, y: "2" });
    const read = await store.read("p");
    expect(read?.data["api_key"]).toBeInstanceOf(SecretValue);
    expect(store.current("p")).toEqual({
      version: 2,
      data: { a: "2", api_key: "k" },
      metadata: { provider: "salesforce-eca", y: "2" },
    });
  });

  it("creates state entries with cas 0 and refuses a stale cas", async () => {
    const state = new InMemoryStateStore();
    const lease = { owner: "a", fence: 1, expiresAt: new Date(0) };
    expect(await state.writeLease("p", lease, 0)).toBe(1);
    await expect(state.writeLease("p", lease, 0)).rejects.toMatchObject({ code: "VAULT_CAS_CONFLICT" });
    expect(await state.writeLease("p", lease, 1)).toBe(2);
    await state.deleteLease("p");
    expect(await state.readLease("p")).toBeUndefined();
  });
});
