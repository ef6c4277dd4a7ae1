// `resolve PATH` on the engine's fakes: a parked rotation is ended with KV naming the pair Salesforce treats as
// main (and proven to log in), what the rotation left at Salesforce deleted, the journal and lease gone; anything
// it cannot do safely is refused with nothing changed.
import { describe, expect, it } from "vitest";
import { RotatorError } from "../../../src/core/errors.ts";
import type { StartOptions } from "../../../src/core/rotation/engine-deps.ts";
import type { JournalRecord } from "../../../src/core/rotation/journal-record.ts";
import { resolveParked } from "../../../src/core/rotation/resolve.ts";
import { SecretValue } from "../../../src/core/secret-value.ts";
import { ROTATE_SEMANTICS } from "../../../src/simulator/salesforce/sim-settings.ts";
import {
  everythingVisible,
  FLAG_START,
  fingerprint,
  Interceptor,
  MINUTE,
  makeDeps,
  makeEngine,
  makeWorld,
  PATH,
  passBackoff,
  SETTINGS,
  type World,
} from "./rotation-world.ts";

const EMERGENCY: StartOptions = { mode: "emergency", trigger: "flag", actor: "operator-flag" };
const RESOLVE = { actor: "cli", trigger: "cli", reason: "CHG-77 staged set deleted in Setup" } as const;

const unavailable = () =>
  new RotatorError("SALESFORCE_UNAVAILABLE", "the token endpoint answered 503", { retryable: true });

/** An emergency rotation parked after promotion: the old pair cannot be proven dead (token endpoint down). */
async function parkedAfterPromotion(semantics: (typeof ROTATE_SEMANTICS)[number]): Promise<World> {
  const w = makeWorld({ semantics, metadata: { rotate: "emergency" } });
  // Past promotion an emergency backs off for as long as rotation.retry_budget lasts (here one hour).
  w.issuer.failNext("provePairDead", unavailable(), { times: 100 });
  const engine = makeEngine(w, { settings: { retryBudgetMs: 60 * MINUTE } });
  let out = await engine.start(PATH, EMERGENCY);
  for (let i = 0; i < 50 && out.kind === "failed" && out.willRetry; i++) {
    passBackoff(w);
    out = await engine.resume(PATH);
  }
  expect(out).toMatchObject({ kind: "failed", willRetry: false });
  expect(w.state.journal(PATH)?.step).toBe("failed");
  expect(w.issuer.promotions).toBe(1);
  return w;
}

/** A standard rotation waiting out its soak, then parked by hand at `promoting` (as after any final failure). */
async function parkedInSoak(w: World, changes: Partial<JournalRecord> = {}): Promise<void> {
  expect(await makeEngine(w).start(PATH, FLAG_START)).toMatchObject({ kind: "waiting", waiting: "soak" });
  const j = await w.state.readJournal(PATH);
  if (j === undefined) throw new Error("no journal");
  await w.state.writeJournal(
    PATH,
    {
      ...j.value,
      step: "failed",
      failedStep: "promoting",
      lastError: "SALESFORCE_NOT_FOUND: the staged set is gone",
      ...changes,
    },
    j.version,
  );
}

function kvPair(w: World): { clientId: string | undefined; secret: string | undefined } {
  const d = w.store.current(PATH).data;
  return { clientId: d["client_id"], secret: d["api_key"] };
}

/** What every successful resolve leaves: KV names Salesforce's main pair, nothing else logs in, no journal. */
async function expectResolved(w: World): Promise<void> {
  const main = w.issuer.mainPair(w.target);
  expect(kvPair(w)).toEqual({ clientId: main.clientId, secret: main.secret });
  const login = await w.issuer.verifyPair("prod", main.clientId, SecretValue.of(main.secret), 0);
  expect(login.ok).toBe(true);
  expect(w.issuer.validPairs().map((p) => p.clientId)).toEqual([main.clientId]);
  expect(w.issuer.stagedRecord(w.target)).toBeUndefined();
  const kv = w.store.current(PATH);
  expect(kv.data["previous_client_id"] ?? "").toBe("");
  expect(kv.data["previous_key"] ?? "").toBe("");
  expect(kv.metadata["rotation_state"]).toBe("failed");
  expect(kv.metadata["last_rotation_error"]).toMatch(
    /^resolved by cli: CHG-77 .*set rotate=now to rotate again/,
  );
  expect(kv.metadata["rotate"]).toBeUndefined();
  expect(kv.metadata["team_owner"]).toBe("team-a");
  expect(w.state.journal(PATH)).toBeUndefined();
  expect(w.state.lease(PATH)).toBeUndefined();
}

describe("resolve PATH", () => {
  for (const semantics of ROTATE_SEMANTICS) {
    it(`${semantics}: ends an emergency rotation parked after promotion; KV names the promoted pair, the old pair dies`, async () => {
      const w = await parkedAfterPromotion(semantics);
      const parkedJournal = w.state.journal(PATH);
      const out = await resolveParked(makeDeps(w), PATH, RESOLVE);
      expect(out).toMatchObject({
        kind: "resolved",
        main: "new",
        keyFingerprint: fingerprint(w.issuer.mainPair(w.target).clientId),
        journal: {
          rotationId: parkedJournal?.rotationId,
          mode: "emergency",
          step: "failed",
          failedStep: parkedJournal?.failedStep,
          lastError: expect.stringContaining("SALESFORCE_UNAVAILABLE"),
        },
      });
      await expectResolved(w);
      // The rotated record went with the old pair it may have kept alive, whatever key it showed.
      expect(w.issuer.validPairs().some((p) => p.clientId === w.original.clientId)).toBe(false);
      const resolved = w.audit.events.filter((e) => e.type === "rotation.resolved");
      expect(resolved).toHaveLength(1);
      expect(resolved[0]).toMatchObject({
        rotationId: parkedJournal?.rotationId,
        actor: "cli",
        trigger: "cli",
        reason: RESOLVE.reason,
        errorCode: "SALESFORCE_UNAVAILABLE",
        keyFingerprint: fingerprint(w.issuer.mainPair(w.target).clientId),
      });
      const notice = w.notifier.sent.at(-1);
      expect(notice?.kind).toBe("rotation.action_needed");
      expect(notice?.text).toContain("the rotation's new pair");
      expect(everythingVisible(w, [out])).not.toContain("test-secret-canary");
    });
  }

  it("after a failed promotion with main still old: restores the old pair from previous_* and deletes the staged set", async () => {
    const w = makeWorld();
    await parkedInSoak(w);
    const published = kvPair(w);
    expect(published.clientId).not.toBe(w.original.clientId);
    const out = await resolveParked(makeDeps(w), PATH, RESOLVE);
    expect(out).toMatchObject({ kind: "resolved", main: "old", kvVersion: 3, stagedDeleted: 1 });
    await expectResolved(w);
    expect(kvPair(w)).toEqual({ clientId: w.original.clientId, secret: w.original.secret });
    expect(w.issuer.promotions).toBe(0);
    expect(w.store.current(PATH).data["endpoint"]).toBe("https://crm.example.com");
  });

  it("keeps KV as it is when it already names a pair someone made main by hand, and deletes only the rotation's set", async () => {
    const w = makeWorld();
    await parkedInSoak(w);
    // A person deleted the rotation's set, staged and activated their own in Setup, and wrote it into KV.
    w.issuer.personDeletesStaged(w.target);
    const theirs = w.issuer.personStages(w.target);
    await w.issuer.promote(w.target, theirs.id);
    const main = w.issuer.mainPair(w.target);
    w.store.put(PATH, { ...w.store.current(PATH).data, client_id: main.clientId, api_key: main.secret });
    const before = w.store.current(PATH).version;
    const out = await resolveParked(makeDeps(w), PATH, RESOLVE);
    expect(out).toMatchObject({ kind: "resolved", main: "other", stagedDeleted: 0 });
    expect(w.store.current(PATH).version).toBe(before + 1); // previous_* cleared, the pair kept
    expect(kvPair(w)).toEqual({ clientId: main.clientId, secret: main.secret });
    // Their rotated record is theirs to delete: resolve never touches what the rotation did not make.
    expect(w.issuer.stagedRecord(w.target)).toMatchObject({ id: theirs.id, state: "rotated" });
  });

  it("refuses, changing nothing, when Salesforce's main pair is one neither KV nor the journal holds", async () => {
    const w = makeWorld();
    await parkedInSoak(w);
    w.issuer.personDeletesStaged(w.target);
    await w.issuer.promote(w.target, w.issuer.personStages(w.target).id);
    const before = { kv: w.store.snapshot(), journal: w.state.journal(PATH), sf: w.issuer.snapshot() };
    const out = await resolveParked(makeDeps(w), PATH, RESOLVE);
    expect(out).toMatchObject({ kind: "refused", code: "ROTATION_STATE_MISMATCH" });
    expect(out.kind === "refused" && out.message).toMatch(/neither KV .* nor the journal holds its secret/);
    expect({ kv: w.store.snapshot(), journal: w.state.journal(PATH), sf: w.issuer.snapshot() }).toEqual(
      before,
    );
    // The refusal hands the lease back at once: nothing blocks the next attempt.
    expect(w.state.lease(PATH)?.expiresAt.getTime()).toBeLessThanOrEqual(w.clock.now().getTime());
    expect(w.audit.types()).not.toContain("rotation.resolved");
  });

  it("refuses, changing nothing, when the main pair does not log in", async () => {
    const w = makeWorld();
    await parkedInSoak(w);
    // KV's previous_key no longer matches the old pair: the pair resolve would restore cannot log in.
    w.store.put(PATH, { ...w.store.current(PATH).data, previous_key: "test-secret-canary-wrong" });
    const before = { kv: w.store.snapshot(), journal: w.state.journal(PATH), sf: w.issuer.snapshot() };
    const out = await resolveParked(makeDeps(w), PATH, RESOLVE);
    expect(out).toMatchObject({ kind: "refused", code: "ROTATION_VERIFY_FAILED" });
    expect({ kv: w.store.snapshot(), journal: w.state.journal(PATH), sf: w.issuer.snapshot() }).toEqual(
      before,
    );
    expect(JSON.stringify(out)).not.toContain("test-secret-canary");
  });

  it("refuses a rotation that is not parked (waiting for its soak), and one whose lease another process holds", async () => {
    const w = makeWorld();
    expect(await makeEngine(w).start(PATH, FLAG_START)).toMatchObject({ kind: "waiting" });
    const soaking = w.state.journal(PATH);
    const out = await resolveParked(makeDeps(w), PATH, RESOLVE);
    expect(out).toMatchObject({
      kind: "refused",
      code: "ROTATION_RESOLVE_REFUSED",
      journal: { step: "published", rotationId: soaking?.rotationId },
    });
    expect(out.kind === "refused" && out.message).toMatch(/not parked .*let it finish, or roll it back/);
    expect(w.state.journal(PATH)).toEqual(soaking);

    w.state.putLease(PATH, {
      owner: "replica-b",
      expiresAt: new Date(w.clock.now().getTime() + MINUTE),
      fence: 9,
    });
    expect(await resolveParked(makeDeps(w), PATH, RESOLVE)).toMatchObject({
      kind: "refused",
      code: "ROTATION_LEASE_HELD",
    });
    expect(w.state.lease(PATH)).toMatchObject({ owner: "replica-b", fence: 9 });
  });

  it("refuses when there is no journal, and names another deployment when the metadata says a rotation runs", async () => {
    const w = makeWorld();
    expect(await resolveParked(makeDeps(w), PATH, RESOLVE)).toMatchObject({
      kind: "refused",
      code: "ROTATION_RESOLVE_REFUSED",
      message: expect.stringContaining("nothing is parked"),
    });
    w.store.patchByHand(PATH, { rotation_state: "in_progress" });
    const out = await resolveParked(makeDeps(w), PATH, RESOLVE);
    expect(out.kind === "refused" && out.message).toMatch(/another deployment .*rotation_state=failed/);
    expect(w.state.lease(PATH)).toBeUndefined();
  });

  it("never sends the journal's secret to a host the configuration moved to since the rotation started", async () => {
    const w = await parkedAfterPromotion("immediate");
    const moved = {
      ...SETTINGS.destinations,
      connections: [{ name: "prod", origin: "https://attacker.example.net", prefixes: undefined }],
    };
    const calls = w.issuer.calls.length;
    const out = await resolveParked(makeDeps(w, { settings: { destinations: moved } }), PATH, RESOLVE);
    expect(out).toMatchObject({ kind: "refused", code: "ROTATION_STATE_MISMATCH" });
    expect(w.issuer.calls.slice(calls)).toEqual([]);
    expect(w.state.journal(PATH)?.step).toBe("failed");
  });

  it("finishes on a second run when the first died after writing KV", async () => {
    const w = makeWorld();
    await parkedInSoak(w);
    const dying = new Interceptor({
      before: (name) => {
        if (name === "issuer.listStaged") dying.crashAfter = dying.log.length - 1;
      },
    });
    await expect(resolveParked(makeDeps(w, { interceptor: dying }), PATH, RESOLVE)).rejects.toThrow(
      /died before/,
    );
    expect(kvPair(w)).toEqual({ clientId: w.original.clientId, secret: w.original.secret });
    expect(w.state.journal(PATH)?.step).toBe("failed");
    w.clock.advance(SETTINGS.leaseTtlMs);
    const again = await resolveParked(makeDeps(w), PATH, RESOLVE);
    expect(again).toMatchObject({ kind: "resolved", main: "old", kvVersion: undefined, stagedDeleted: 1 });
    await expectResolved(w);
  });
});
