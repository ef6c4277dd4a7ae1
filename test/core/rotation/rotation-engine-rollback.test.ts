import { describe, expect, it } from "vitest";
import { ROTATE_SEMANTICS } from "../../../src/simulator/salesforce/sim-settings.ts";
import {
  everythingVisible,
  FLAG_START,
  Interceptor,
  makeEngine,
  makeWorld,
  PATH,
  passBackoff,
  settle,
  type World,
} from "./rotation-world.ts";

/** Back to where it started: the old pair is main and current in KV, nothing staged, nothing promoted. */
function expectRolledBack(w: World): void {
  const kv = w.store.current(PATH);
  expect(w.issuer.mainPair(w.target)).toEqual(w.original);
  expect({ id: kv.data["client_id"], key: kv.data["api_key"] }).toEqual({
    id: w.original.clientId,
    key: w.original.secret,
  });
  expect(w.issuer.validPairs().map((p) => p.clientId)).toEqual([w.original.clientId]);
  expect(w.issuer.stagedRecord(w.target)).toBeUndefined();
  expect(w.issuer.promotions).toBe(0);
  expect(w.state.journal(PATH)).toBeUndefined();
  expect(w.state.lease(PATH)).toBeUndefined();
  expect(kv.metadata["rotation_state"]).toBe("failed");
  expect(kv.metadata["rotate"]).toBeUndefined();
  expect(kv.metadata["team_owner"]).toBe("team-a");
}

describe("rotation engine, rollback", () => {
  it("rolls back during the soak on request: staged set deleted, old pair current again as a new KV version", async () => {
    const w = makeWorld();
    const engine = makeEngine(w);
    expect(await engine.start(PATH, FLAG_START)).toMatchObject({ kind: "waiting" });
    const out = await engine.rollback(PATH, { actor: "cli", reason: "consumers broke" });
    expect(out).toMatchObject({ kind: "rolled_back", code: undefined, kvVersion: 3 });
    expectRolledBack(w);
    const kv = w.store.current(PATH);
    expect(kv.version).toBe(3);
    expect(kv.data["previous_client_id"]).toBe("");
    expect(kv.data["endpoint"]).toBe("https://crm.example.com");
    expect(kv.metadata["last_rotation_error"]).toBe("rolled back by cli: consumers broke");
    expect(w.audit.types().at(-1)).toBe("rotation.rolled_back");
    expect(w.notifier.sent.map((n) => n.kind)).toEqual(["rotation.rolled_back"]);
    expect(w.notifier.sent[0]?.text).toContain("KV version 3");
  });

  it("rolls back a rotation that had not published yet without writing KV", async () => {
    const w = makeWorld();
    w.issuer.failNext("verifyPair", new Error("network blip"), { after: 1 });
    const engine = makeEngine(w);
    expect(await engine.start(PATH, FLAG_START)).toMatchObject({
      kind: "failed",
      willRetry: true,
      step: "staged",
    });
    const out = await engine.rollback(PATH, { actor: "cli" });
    expect(out).toMatchObject({ kind: "rolled_back", kvVersion: undefined });
    expectRolledBack(w);
    expect(w.store.current(PATH).version).toBe(1);
  });

  for (const semantics of ROTATE_SEMANTICS) {
    it(`${semantics}: rolls back by itself when the new pair cannot log in, and does not retry on schedule`, async () => {
      const w = makeWorld({ semantics, propagationDelayMs: 60 * 60_000 });
      const out = await makeEngine(w).start(PATH, FLAG_START);
      expect(out).toMatchObject({ kind: "rolled_back", code: "ROTATION_VERIFY_FAILED" });
      expectRolledBack(w);
      expect(w.store.current(PATH).version).toBe(1);
      expect(w.store.current(PATH).metadata["last_rotation_error"]).toMatch(/^ROTATION_VERIFY_FAILED: /);
      expect(w.audit.types()).toEqual([
        "rotation.started",
        "consumer.owned",
        "rotation.staged",
        "rotation.rolled_back",
      ]);
      expect(w.audit.events.at(-1)?.errorCode).toBe("ROTATION_VERIFY_FAILED");
      expect(w.notifier.sent.map((n) => n.kind)).toEqual(["rotation.rolled_back"]);
    });
  }

  it("refuses to roll back after promotion and changes nothing", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    let verifications = 0;
    // The second verification (the new pair as main, after promotion) hits a network blip.
    const interceptor = new Interceptor({
      before: (name) => {
        if (name === "issuer.verifyPair" && ++verifications === 3)
          w.issuer.failNext("verifyPair", new Error("blip"));
      },
    });
    const engine = makeEngine(w, { interceptor });
    const mid = await engine.start(PATH, FLAG_START);
    expect(mid).toMatchObject({ kind: "failed", willRetry: true, step: "promoted" });
    const before = [w.issuer.snapshot(), w.store.snapshot(), w.state.journal(PATH)];
    const out = await engine.rollback(PATH, { actor: "cli" });
    expect(out).toMatchObject({
      kind: "failed",
      code: "ROTATION_ROLLBACK_REFUSED",
      willRetry: false,
      step: "promoted",
    });
    expect(out.kind === "failed" && out.message).toContain("no way back");
    expect([w.issuer.snapshot(), w.store.snapshot(), w.state.journal(PATH)]).toEqual(before);
    passBackoff(w);
    expect(await engine.resume(PATH)).toMatchObject({ kind: "completed" });
  });

  it("refuses to roll back an emergency rotation and one that does not exist", async () => {
    const w = makeWorld();
    w.issuer.failNext("promote", new Error("network blip"));
    const engine = makeEngine(w);
    await engine.start(PATH, { ...FLAG_START, mode: "emergency" });
    const out = await engine.rollback(PATH, { actor: "cli" });
    expect(out).toMatchObject({ kind: "failed", code: "ROTATION_ROLLBACK_REFUSED" });
    expect(out.kind === "failed" && out.message).toContain("emergency");
    const none = await makeEngine(makeWorld()).rollback(PATH, { actor: "cli" });
    expect(none).toMatchObject({ kind: "failed", code: "ROTATION_ROLLBACK_REFUSED" });
  });

  it("finishes a rollback that died half way, from any point", async () => {
    const probe = makeWorld();
    const engine = makeEngine(probe);
    await engine.start(PATH, FLAG_START);
    const counter = new Interceptor();
    await makeEngine(probe, { interceptor: counter }).rollback(PATH, { actor: "cli" });
    for (let k = 0; k < counter.log.length; k++) {
      for (const commit of [false, true]) {
        const w = makeWorld();
        await makeEngine(w).start(PATH, FLAG_START);
        const dying = new Interceptor({ crashAfter: k, commit });
        await makeEngine(w, { interceptor: dying }).rollback(PATH, { actor: "cli" });
        const context = `crash at ${k} (${counter.log[k]}), commit=${commit}`;
        let outcomes: unknown[] = [];
        if (w.state.journal(PATH)?.step === "published") {
          // Died before the rollback was journaled: the operator runs it again.
          w.clock.advance(20 * 60_000);
          outcomes = [await makeEngine(w, { owner: "replica-b" }).rollback(PATH, { actor: "cli" })];
        } else if (w.state.journal(PATH) !== undefined) {
          outcomes = await settle(w, () => makeEngine(w, { owner: "replica-b" }));
        }
        try {
          const kv = w.store.current(PATH);
          expect(w.issuer.mainPair(w.target)).toEqual(w.original);
          expect(kv.data["client_id"]).toBe(w.original.clientId);
          expect(w.issuer.stagedRecord(w.target)).toBeUndefined();
          expect(w.issuer.promotions).toBe(0);
          expect(w.state.journal(PATH)).toBeUndefined();
        } catch (err) {
          throw new Error(`${context}: ${String(err)} ${JSON.stringify(outcomes)}`);
        }
        expect(everythingVisible(w, outcomes), context).not.toContain("test-secret-canary");
      }
    }
  });
});
