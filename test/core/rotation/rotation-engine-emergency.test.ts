import { describe, expect, it } from "vitest";
import { RotatorError } from "../../../src/core/errors.ts";
import type { StartOptions } from "../../../src/core/rotation/engine-deps.ts";
import { ROTATE_SEMANTICS } from "../../../src/simulator/salesforce/sim-settings.ts";
import {
  expectRotatedCleanly,
  FLAG_START,
  Interceptor,
  makeEngine,
  makeWorld,
  PATH,
  passBackoff,
  SETTINGS,
} from "./rotation-world.ts";

const EMERGENCY: StartOptions = { mode: "emergency", trigger: "flag", actor: "operator-flag" };

describe("rotation engine, emergency mode", () => {
  for (const semantics of ROTATE_SEMANTICS) {
    it(`${semantics}: promotes, publishes at once, then revokes and proves the old pair dead, with no soak`, async () => {
      const w = makeWorld({
        semantics,
        metadata: { rotate: "emergency", rotate_reason: "INC-1234 key leaked" },
      });
      const interceptor = new Interceptor();
      const out = await makeEngine(w, { interceptor }).start(PATH, EMERGENCY);
      expect(out).toMatchObject({ kind: "completed", mode: "emergency" });
      expectRotatedCleanly(w);

      // Promote, then KV at once (nothing that can fail comes between them), then delete the rotated record and
      // prove the old key dead, then verify the new main pair.
      const log = interceptor.log;
      const at = (name: string) => log.indexOf(name);
      expect(at("issuer.promote")).toBeGreaterThan(at("issuer.createStaged"));
      expect(at("store.writeFields")).toBeGreaterThan(at("issuer.promote"));
      const between = log.slice(at("issuer.promote") + 1, at("store.writeFields"));
      expect(between.filter((c) => c.startsWith("issuer."))).toEqual([]);
      expect(at("issuer.provePairDead")).toBeGreaterThan(at("store.writeFields"));
      // The first login is the proof of possession (the pair in KV works), before anything is staged.
      expect(at("issuer.verifyPair")).toBeLessThan(at("issuer.createStaged"));
      expect(log.lastIndexOf("issuer.verifyPair")).toBeGreaterThan(at("issuer.provePairDead"));
      expect(log.filter((c) => c === "store.writeFields")).toHaveLength(1);
      // Any rotated record goes, whatever key it shows (under two of the three readings it keeps the old pair
      // alive), and only after KV holds the new pair.
      expect(log.filter((c) => c === "issuer.deleteStaged")).toHaveLength(1);
      expect(log.lastIndexOf("issuer.deleteStaged")).toBeGreaterThan(at("store.writeFields"));
      expect(w.issuer.stagedRecord(w.target)).toBeUndefined();

      expect(w.audit.types()).toEqual([
        "rotation.started",
        "consumer.owned",
        "rotation.staged",
        "rotation.promoted",
        "rotation.published",
        "rotation.retired",
        "rotation.verified",
        "rotation.completed",
      ]);
      for (const e of w.audit.events)
        expect(e).toMatchObject({ mode: "emergency", reason: "INC-1234 key leaked" });
      const published = w.audit.events.find((e) => e.type === "rotation.published");
      const completed = w.audit.events.find((e) => e.type === "rotation.completed");
      expect(published?.outageMs).toBeTypeOf("number");
      expect(completed?.outageMs).toBe(published?.outageMs);
      expect(out.kind === "completed" && out.outageMs).toBe(published?.outageMs);

      expect(w.notifier.sent).toHaveLength(1);
      expect(w.notifier.sent[0]?.kind).toBe("rotation.emergency");
      expect(w.notifier.sent[0]?.text).toContain("INC-1234 key leaked");
      expect(w.notifier.sent[0]?.text).toMatch(/Outage from promotion to publication: \d+ms/);
      // previous_* were never set: in an emergency the old pair is compromised, so KV never offers it.
      expect(w.store.history(PATH).map((v) => v["previous_client_id"])).toEqual([undefined, ""]);
    });
  }

  it("measures the outage from promotion to publication, which no longer waits for the old pair's retirement", async () => {
    const w = makeWorld({ propagationDelayMs: 0 });
    // Publishing takes 90 s here (a slow Vault), retiring the old pair another 10 minutes.
    const interceptor = new Interceptor({
      before: (name) => {
        if (name === "store.writeFields") w.clock.advance(90_000);
        if (name === "issuer.provePairDead") w.clock.advance(10 * 60_000);
      },
    });
    const out = await makeEngine(w, { interceptor }).start(PATH, EMERGENCY);
    expect(out).toMatchObject({ kind: "completed", outageMs: 90_000 });
    expect(w.notifier.sent[0]?.text).toContain("1m 30s");
  });

  for (const semantics of ["overlap", "immediate"] as const) {
    it(`${semantics}: a Salesforce outage after promotion never leaves KV naming the dead old pair`, async () => {
      const w = makeWorld({ semantics, metadata: { rotate: "emergency" } });
      const engine = makeEngine(w);
      // Promotion goes through, then listing the staged sets (the retire step) fails every time.
      const outage = new RotatorError("SALESFORCE_UNAVAILABLE", "503", { retryable: true });
      w.issuer.failNext("listStaged", outage, { after: 3, times: 50 });
      let out = await engine.start(PATH, EMERGENCY);
      for (let i = 0; i < 10 && out.kind === "failed"; i++) {
        // At every moment of the outage, the pair KV names is the one Salesforce accepts.
        const kv = w.store.current(PATH);
        expect(kv.data["client_id"]).toBe(w.issuer.mainPair(w.target).clientId);
        expect(w.issuer.validPairs().map((p) => p.clientId)).toContain(kv.data["client_id"]);
        if (!out.willRetry) break;
        out = await engine.resume(PATH);
      }
      expect(w.store.current(PATH).data["client_id"]).toBe(w.issuer.mainPair(w.target).clientId);
      expect(w.issuer.promotions).toBe(1);
    });
  }

  it("publishes the promoted pair even when verifying it keeps failing, and fails loudly", async () => {
    const w = makeWorld({ propagationDelayMs: 24 * 60 * 60_000 });
    const engine = makeEngine(w, { settings: { retryBudgetMs: 60 * 60_000 } });
    let last = await engine.start(PATH, EMERGENCY);
    expect(last).toMatchObject({ kind: "failed", willRetry: true });
    // Past promotion the attempts go on beyond max_attempts, as long as rotation.retry_budget lasts.
    for (let i = 0; i < 30 && last.kind === "failed" && last.willRetry; i++) {
      // KV already holds what Salesforce accepts: the invariant holds while the failure is worked on.
      expect(w.store.current(PATH).data["client_id"]).toBe(w.issuer.mainPair(w.target).clientId);
      passBackoff(w);
      last = await engine.resume(PATH);
    }
    expect(last.kind === "failed" && last.attempts).toBeGreaterThan(SETTINGS.maxAttempts);
    expect(last).toMatchObject({
      kind: "failed",
      willRetry: false,
      code: "ROTATION_VERIFY_FAILED",
      step: "retired",
    });
    expect(w.store.current(PATH).metadata).toMatchObject({ rotation_state: "failed" });
    expect(w.notifier.sent.map((n) => n.kind)).toEqual(["rotation.retrying", "rotation.failed"]);
  });

  it("ends a standard rotation's soak at once when an emergency flag arrives", async () => {
    const w = makeWorld();
    const engine = makeEngine(w);
    expect(await engine.start(PATH, FLAG_START)).toMatchObject({ kind: "waiting", waiting: "soak" });
    w.store.patchByHand(PATH, { rotate: "emergency" });
    expect(await engine.start(PATH, EMERGENCY)).toMatchObject({ kind: "completed", mode: "standard" });
    expectRotatedCleanly(w);
  });
});
