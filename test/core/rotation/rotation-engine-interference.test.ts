// Faults and human interference around the point of no return, on the engine and its fakes: a staged set that
// vanishes during the soak, KV set back to the old pair, previous_* tidied away before a rollback, an emergency
// whose retire meets an outage, a person pasting the new pair during that outage, and an operator's flag set
// while a rotation runs. Whatever happens, the pair KV's current version names must log in (outside the
// revoke-first window of an emergency), and the outcome, state and chat must say what happened.
import { describe, expect, it } from "vitest";
import { RotatorError } from "../../../src/core/errors.ts";
import { ROTATE_SEMANTICS } from "../../../src/simulator/salesforce/sim-settings.ts";
import {
  expectRotatedCleanly,
  FLAG_START,
  Interceptor,
  MINUTE,
  makeEngine,
  makeWorld,
  PATH,
  passBackoff,
  settle,
  type World,
} from "./rotation-world.ts";

const EMERGENCY = { ...FLAG_START, mode: "emergency" as const };

function validKeys(w: World): string[] {
  return w.issuer.validPairs().map((p) => p.clientId);
}

/** KV's current pair logs in at Salesforce. */
function expectKvWorks(w: World): void {
  const kv = w.store.current(PATH).data;
  const live = w.issuer.validPairs().find((p) => p.clientId === kv["client_id"]);
  expect(live?.secret, `KV names ${kv["client_id"]}, which does not log in`).toBe(kv["api_key"]);
}

describe("a staged set that vanishes during the soak", () => {
  for (const semantics of ROTATE_SEMANTICS) {
    it(`${semantics}: rolls back to the old pair (still Salesforce's main), fails clearly and alerts`, async () => {
      const w = makeWorld({ semantics });
      const engine = makeEngine(w);
      expect((await engine.start(PATH, FLAG_START)).kind).toBe("waiting");
      w.issuer.personDeletesStaged(w.target); // or the 30-day expiry
      w.clock.advance(16 * MINUTE);
      const out = await engine.resume(PATH);
      expect(out).toMatchObject({ kind: "rolled_back", code: "ROTATION_STATE_MISMATCH" });
      expect(out.kind === "rolled_back" && out.message).toContain("the staged set is gone");
      expect(w.issuer.promotions).toBe(0);
      expect(w.store.current(PATH).data["client_id"]).toBe(w.original.clientId);
      expectKvWorks(w);
      expect(w.store.current(PATH).metadata).toMatchObject({ rotation_state: "failed" });
      expect(w.state.journal(PATH)).toBeUndefined();
      expect(w.notifier.sent.map((n) => n.kind)).toEqual(["rotation.rolled_back"]);
      expect(w.notifier.sent[0]?.text).toContain("the staged set is gone");
    });
  }

  it("lets an operator roll back a rotation parked at promoting, reading the main key first", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    // PATCH fails for good: the rotation parks at promoting with Salesforce still on the old pair.
    w.issuer.failNext("promote", new RotatorError("SALESFORCE_NOT_ENABLED", "403"));
    const engine = makeEngine(w);
    expect(await engine.start(PATH, FLAG_START)).toMatchObject({ kind: "failed", step: "promoting" });
    const out = await engine.rollback(PATH, { actor: "cli", reason: "give up" });
    expect(out).toMatchObject({ kind: "rolled_back" });
    expect(w.store.current(PATH).data["client_id"]).toBe(w.original.clientId);
    expectKvWorks(w);
    expect(w.issuer.stagedRecord(w.target)).toBeUndefined();
  });

  it("refuses an operator's rollback at promoting when the PATCH had landed, and changes nothing", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    w.issuer.failNext("promote", new RotatorError("SALESFORCE_NOT_ENABLED", "403"), { commit: true });
    const engine = makeEngine(w);
    expect(await engine.start(PATH, FLAG_START)).toMatchObject({ kind: "failed", step: "promoting" });
    const before = [w.issuer.snapshot(), w.store.current(PATH)];
    const out = await engine.rollback(PATH, { actor: "cli" });
    expect(out).toMatchObject({ kind: "failed", code: "ROTATION_ROLLBACK_REFUSED" });
    expect(out.kind === "failed" && out.message).toContain("Salesforce has promoted the new pair");
    expect([w.issuer.snapshot(), w.store.current(PATH)]).toEqual(before);
    // Still parked at promoting: a resume reads the main key and goes on.
    expect(w.state.journal(PATH)).toMatchObject({ step: "failed", failedStep: "promoting" });
    w.store.patchByHand(PATH, { rotate: "now" });
    expect(await engine.start(PATH, FLAG_START)).toMatchObject({ kind: "completed" });
    expectRotatedCleanly(w);
  });
});

describe("KV set back to the old pair during the soak", () => {
  for (const semantics of ROTATE_SEMANTICS) {
    it(`${semantics}: is not promoted over; the rotation rolls back and the reverted pair keeps working`, async () => {
      const w = makeWorld({ semantics });
      const engine = makeEngine(w);
      expect((await engine.start(PATH, FLAG_START)).kind).toBe("waiting");
      const cur = w.store.current(PATH);
      w.store.put(PATH, {
        ...cur.data,
        client_id: w.original.clientId,
        api_key: w.original.secret,
        previous_client_id: "",
        previous_key: "",
      });
      w.clock.advance(16 * MINUTE);
      const out = await engine.resume(PATH);
      expect(out).toMatchObject({ kind: "rolled_back" });
      expect(out.kind === "rolled_back" && out.message).toContain("KV was set back to the old pair");
      expect(w.issuer.promotions).toBe(0);
      expect(w.issuer.stagedRecord(w.target)).toBeUndefined();
      expectKvWorks(w);
      expect(validKeys(w)).toEqual([w.original.clientId]);
    });
  }

  it("stops without promoting when KV holds a pair the rotation does not know", async () => {
    const w = makeWorld();
    const engine = makeEngine(w);
    expect((await engine.start(PATH, FLAG_START)).kind).toBe("waiting");
    const cur = w.store.current(PATH);
    w.store.put(PATH, { ...cur.data, api_key: "test-secret-canary-someone-elses" });
    w.clock.advance(16 * MINUTE);
    const out = await engine.resume(PATH);
    expect(out).toMatchObject({ kind: "failed", code: "ROTATION_STATE_MISMATCH", willRetry: false });
    expect(out.kind === "failed" && out.message).toContain("KV holds a pair this rotation did not publish");
    expect(w.issuer.promotions).toBe(0);
    // Salesforce is untouched: both the old pair and the staged pair still work.
    expect(validKeys(w)).toEqual(expect.arrayContaining([w.original.clientId, cur.data["client_id"]]));
  });
});

describe("rollback when previous_* were tidied away", () => {
  it("touches nothing at Salesforce when KV cannot be pointed back, so KV's pair keeps working", async () => {
    const w = makeWorld({ semantics: "overlap" });
    const engine = makeEngine(w);
    expect((await engine.start(PATH, FLAG_START)).kind).toBe("waiting");
    const cur = w.store.current(PATH);
    const newKey = cur.data["client_id"];
    w.store.put(PATH, { ...cur.data, previous_client_id: "", previous_key: "" });
    const out = await engine.rollback(PATH, { actor: "cli", reason: "consumer broke" });
    expect(out.kind).toBe("failed");
    expect(out.kind === "failed" && out.message).toContain("nothing was deleted");
    expect(w.store.current(PATH).data["client_id"]).toBe(newKey);
    expect(validKeys(w)).toContain(newKey);
    expectKvWorks(w);
  });

  it("restores KV before deleting the staged set, so both pairs work until KV names the old one", async () => {
    const w = makeWorld({ semantics: "overlap" });
    const engine = makeEngine(w);
    expect((await engine.start(PATH, FLAG_START)).kind).toBe("waiting");
    const order: string[] = [];
    const observed = makeEngine(w, {
      interceptor: new Interceptor({
        before: (name) => {
          if (name === "store.writeFields" || name === "issuer.deleteStaged") {
            order.push(name);
            expectKvWorks(w);
          }
        },
      }),
    });
    expect(await observed.rollback(PATH, { actor: "cli" })).toMatchObject({ kind: "rolled_back" });
    expect(order).toEqual(["store.writeFields", "issuer.deleteStaged"]);
    expectKvWorks(w);
  });
});

describe("an emergency whose retire meets an outage after promotion", () => {
  for (const semantics of ROTATE_SEMANTICS) {
    it(`${semantics}: KV already names the promoted pair, so consumers recover at once`, async () => {
      const w = makeWorld({ semantics });
      const limited = new RotatorError("SALESFORCE_RATE_LIMITED", "login rate exceeded", { retryable: true });
      w.issuer.failNext("provePairDead", limited, { times: 10 });
      const engine = makeEngine(w);
      let out = await engine.start(PATH, EMERGENCY);
      for (let i = 0; i < 10 && out.kind === "failed" && out.willRetry; i++) {
        expectKvWorks(w);
        passBackoff(w);
        out = await engine.resume(PATH);
      }
      // However it ends, KV names the one pair Salesforce accepts.
      expect(w.store.current(PATH).data["client_id"]).toBe(w.issuer.mainPair(w.target).clientId);
      expectKvWorks(w);
    });
  }

  it("a person pasting the new pair into KV during the outage is taken as the rotation's own write", async () => {
    const w = makeWorld({ semantics: "immediate" });
    w.issuer.failNext("promote", new RotatorError("SALESFORCE_UNAVAILABLE", "503", { retryable: true }), {
      commit: true,
    });
    const engine = makeEngine(w);
    const first = await engine.start(PATH, EMERGENCY);
    expect(first).toMatchObject({ kind: "failed", willRetry: true });
    // Promoted at Salesforce, answer lost: KV still names the dead old pair. A person copies the new one from Setup.
    const main = w.issuer.mainPair(w.target);
    const cur = w.store.current(PATH);
    w.store.put(PATH, { ...cur.data, client_id: main.clientId, api_key: main.secret });
    passBackoff(w);
    const out = await engine.resume(PATH);
    expect(out).toMatchObject({ kind: "completed", mode: "emergency" });
    expect(w.store.current(PATH).data).toMatchObject({ client_id: main.clientId, api_key: main.secret });
    expect(validKeys(w)).toEqual([main.clientId]);
    expect(w.state.journal(PATH)).toBeUndefined();
  });
});

describe("KV written by a person after the new pair was published", () => {
  for (const semantics of ROTATE_SEMANTICS) {
    it(`${semantics}: a standard rotation does not retire while KV names a pair it did not publish`, async () => {
      const w = makeWorld({ semantics, metadata: { soak: "0s" } });
      const engine = makeEngine(w, { settings: { retireAfterMs: 60 * MINUTE } });
      // Where the old pair dies at promotion there is no retire_after wait (asked once, right after promotion):
      // an answer that cannot prove it dead keeps the wait, so the person has the hour to edit KV here too.
      if (semantics === "immediate") {
        w.issuer.failNext(
          "provePairDead",
          new RotatorError("SALESFORCE_UNAVAILABLE", "503", { retryable: true }),
        );
      }
      expect(await engine.start(PATH, FLAG_START)).toMatchObject({ kind: "waiting", waiting: "retire" });
      const probes = w.issuer.calls.filter((c) => c === "provePairDead").length;
      expect(probes).toBe(1);
      const cur = w.store.current(PATH);
      w.store.put(PATH, { ...cur.data, api_key: "test-secret-canary-typed-by-hand" });
      w.clock.advance(61 * MINUTE);
      const out = await engine.resume(PATH);
      expect(out).toMatchObject({ kind: "failed", code: "ROTATION_STATE_MISMATCH", willRetry: false });
      expect(out.kind === "failed" && out.message).toContain("KV holds a pair this rotation did not publish");
      expect(out.kind === "failed" && out.message).toContain("eca-rotator resolve");
      expect(w.state.journal(PATH)?.oldKeyDeadAt).toBeUndefined();
      expect(w.issuer.calls.filter((c) => c === "provePairDead")).toHaveLength(probes);
      // Nothing retired: wherever Salesforce still keeps the old pair, the pair in previous_* logs in.
      if (semantics !== "immediate") expect(validKeys(w)).toContain(w.original.clientId);
      expect(w.store.current(PATH).data["api_key"]).toBe("test-secret-canary-typed-by-hand");
      expect(w.store.current(PATH).metadata).toMatchObject({ rotation_state: "failed" });
    });

    it(`${semantics}: an emergency kills the compromised pair a sync job wrote back, and points KV at the new one`, async () => {
      const w = makeWorld({ semantics });
      const unavailable = new RotatorError("SALESFORCE_UNAVAILABLE", "503", { retryable: true });
      w.issuer.failNext("provePairDead", unavailable);
      const engine = makeEngine(w);
      expect(await engine.start(PATH, EMERGENCY)).toMatchObject({ kind: "failed", willRetry: true });
      const published = w.store.current(PATH);
      w.store.put(PATH, {
        ...published.data,
        client_id: w.original.clientId,
        api_key: w.original.secret,
      });
      passBackoff(w);
      expect(await engine.resume(PATH)).toMatchObject({ kind: "completed", mode: "emergency" });
      expect(validKeys(w)).not.toContain(w.original.clientId);
      expect(w.store.current(PATH).data).toMatchObject({
        client_id: published.data["client_id"],
        api_key: published.data["api_key"],
        previous_client_id: "",
        previous_key: "",
      });
      expectKvWorks(w);
      const retired = w.audit.events.find((e) => e.type === "rotation.retired");
      expect(retired?.kvVersion).toBe(w.store.current(PATH).version);
    });
  }
});

describe("an operator's flag set while a rotation runs", () => {
  it("rotate=emergency after promotion ends the retire wait and survives the close: an emergency rotation follows", async () => {
    const w = makeWorld({ semantics: "overlap", metadata: { soak: "0s" } });
    const settings = { retireAfterMs: 60 * MINUTE };
    const engine = makeEngine(w, { settings });
    expect(await engine.start(PATH, FLAG_START)).toMatchObject({ kind: "waiting", waiting: "retire" });
    const promotedKey = w.issuer.mainPair(w.target).clientId;
    // The new pair leaks; the operator asks for an emergency rotation.
    w.store.patchByHand(PATH, { rotate: "emergency", rotate_reason: "INC-42 new key leaked" });
    const ended = await engine.start(PATH, EMERGENCY);
    // The retire wait is over at once (the old pair is revoked now), and the standard rotation closes.
    expect(ended).toMatchObject({ kind: "completed", mode: "standard" });
    expect(validKeys(w)).toEqual([promotedKey]);
    const meta = w.store.current(PATH).metadata;
    expect(meta["rotate"]).toBe("emergency");
    expect(meta["rotate_reason"]).toBe("INC-42 new key leaked");
    // The next cycle acts on the surviving flag: the leaked pair is revoked by an emergency rotation.
    const next = await engine.start(PATH, EMERGENCY);
    expect(next).toMatchObject({ kind: "completed", mode: "emergency" });
    expect(w.issuer.mainPair(w.target).clientId).not.toBe(promotedKey);
    expect(validKeys(w)).not.toContain(promotedKey);
    expect(w.store.current(PATH).metadata["rotate"]).toBeUndefined();
  });

  it("rotate=emergency during the soak ends it and is used up: no second rotation", async () => {
    const w = makeWorld();
    const engine = makeEngine(w);
    expect(await engine.start(PATH, FLAG_START)).toMatchObject({ kind: "waiting", waiting: "soak" });
    w.store.patchByHand(PATH, { rotate: "emergency" });
    expect(await engine.start(PATH, EMERGENCY)).toMatchObject({ kind: "completed", mode: "standard" });
    expectRotatedCleanly(w);
    expect(w.issuer.promotions).toBe(1);
  });

  it("a rotate_reason or flag changed while a scheduled rotation ran is kept for the next cycle", async () => {
    const w = makeWorld({ metadata: { rotate: undefined, soak: "10m" } });
    const engine = makeEngine(w);
    const sched = { mode: "standard" as const, trigger: "schedule" as const, actor: "scheduler" };
    expect((await engine.start(PATH, sched)).kind).toBe("waiting");
    w.store.patchByHand(PATH, { rotate: "now", rotate_reason: "CHG-7 rotate again after the audit" });
    const done = await settle(w, () => engine, sched);
    expect(done.at(-1)).toMatchObject({ kind: "completed" });
    expect(w.store.current(PATH).metadata).toMatchObject({
      rotate: "now",
      rotate_reason: "CHG-7 rotate again after the audit",
    });
  });

  it("an emergency rolled back before promotion keeps its flag, so it is tried again", async () => {
    const w = makeWorld({ metadata: { rotate: "emergency", rotate_reason: "INC-9" } });
    const engine = makeEngine(w);
    // The staged set vanishes between staging and promotion.
    const interceptor = new Interceptor({
      before: (name) => {
        if (name === "issuer.readMainKey" && w.issuer.stagedRecord(w.target) !== undefined) {
          w.issuer.personDeletesStaged(w.target);
        }
      },
    });
    const out = await makeEngine(w, { interceptor }).start(PATH, EMERGENCY);
    expect(out).toMatchObject({ kind: "rolled_back" });
    expect(w.issuer.promotions).toBe(0);
    expectKvWorks(w);
    expect(w.store.current(PATH).metadata).toMatchObject({ rotate: "emergency", rotate_reason: "INC-9" });
    const again = await engine.start(PATH, EMERGENCY);
    expect(again).toMatchObject({ kind: "completed", mode: "emergency" });
    expect(w.store.current(PATH).metadata["rotate"]).toBeUndefined();
  });
});
