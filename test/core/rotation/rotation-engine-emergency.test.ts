import { describe, expect, it } from "vitest";
import type { StartOptions } from "../../../src/core/rotation/rotation-engine.ts";
import { ROTATE_SEMANTICS } from "../../../src/simulator/salesforce/sim-settings.ts";
import {
  expectRotatedCleanly,
  FLAG_START,
  Interceptor,
  makeEngine,
  makeWorld,
  PATH,
} from "./rotation-world.ts";

const EMERGENCY: StartOptions = { mode: "emergency", trigger: "flag", actor: "operator-flag" };

describe("rotation engine, emergency mode", () => {
  for (const semantics of ROTATE_SEMANTICS) {
    it(`${semantics}: revokes the old pair before publishing the new one, with no soak`, async () => {
      const w = makeWorld({
        semantics,
        metadata: { rotate: "emergency", rotate_reason: "INC-1234 key leaked" },
      });
      const interceptor = new Interceptor();
      const out = await makeEngine(w, { interceptor }).start(PATH, EMERGENCY);
      expect(out).toMatchObject({ kind: "completed", mode: "emergency" });
      expectRotatedCleanly(w);

      // Salesforce first (promote, delete the rotated record, prove the old pair dead), KV last.
      const log = interceptor.log;
      const at = (name: string) => log.indexOf(name);
      expect(at("issuer.promote")).toBeGreaterThan(at("issuer.createStaged"));
      expect(at("issuer.provePairDead")).toBeGreaterThan(at("issuer.promote"));
      expect(at("store.writeFields")).toBeGreaterThan(at("issuer.provePairDead"));
      // The first login is the proof of possession (the pair in KV works), before anything is staged.
      expect(at("issuer.verifyPair")).toBeLessThan(at("issuer.createStaged"));
      expect(log.lastIndexOf("issuer.verifyPair")).toBeGreaterThan(at("store.writeFields"));
      expect(log.filter((c) => c === "store.writeFields")).toHaveLength(1);
      // Any rotated record goes, whatever key it shows: under two of the three readings it keeps the old pair alive.
      expect(log.filter((c) => c === "issuer.deleteStaged")).toHaveLength(1);
      expect(w.issuer.stagedRecord(w.target)).toBeUndefined();

      expect(w.audit.types()).toEqual([
        "rotation.started",
        "consumer.owned",
        "rotation.staged",
        "rotation.promoted",
        "rotation.retired",
        "rotation.published",
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
      // previous_* were never set: the old pair is dead before the new one is published.
      expect(w.store.history(PATH).map((v) => v["previous_client_id"])).toEqual([undefined, ""]);
    });
  }

  it("measures the outage from promotion to publication", async () => {
    const w = makeWorld({ propagationDelayMs: 0 });
    // Time passes between promotion and publication: retiring the old pair takes 90 s here.
    const interceptor = new Interceptor({
      before: (name) => {
        if (name === "issuer.provePairDead") w.clock.advance(90_000);
      },
    });
    const out = await makeEngine(w, { interceptor }).start(PATH, EMERGENCY);
    expect(out).toMatchObject({ kind: "completed", outageMs: 90_000 });
    expect(w.notifier.sent[0]?.text).toContain("1m 30s");
  });

  it("publishes the promoted pair even when verifying it keeps failing, and fails loudly", async () => {
    const w = makeWorld({ propagationDelayMs: 60 * 60_000 });
    const engine = makeEngine(w);
    expect(await engine.start(PATH, EMERGENCY)).toMatchObject({ kind: "failed", willRetry: true });
    // KV already holds what Salesforce accepts: the invariant holds while the failure is worked on.
    expect(w.store.current(PATH).data["client_id"]).toBe(w.issuer.mainPair(w.target).clientId);
    await engine.resume(PATH);
    const last = await engine.resume(PATH);
    expect(last).toMatchObject({
      kind: "failed",
      willRetry: false,
      code: "ROTATION_VERIFY_FAILED",
      step: "published",
    });
    expect(w.store.current(PATH).metadata).toMatchObject({ rotation_state: "failed" });
    expect(w.notifier.sent.map((n) => n.kind)).toEqual(["rotation.failed"]);
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
