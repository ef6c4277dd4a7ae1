import { describe, expect, it } from "vitest";
import { RotatorError } from "../../../src/core/errors.ts";
import { ROTATE_SEMANTICS } from "../../../src/simulator/salesforce/sim-settings.ts";
import {
  expectRotatedCleanly,
  FLAG_START,
  fingerprint,
  Interceptor,
  MINUTE,
  makeEngine,
  makeWorld,
  PATH,
  passBackoff,
  SETTINGS,
  T0,
} from "./rotation-world.ts";

const SEMANTICS = ROTATE_SEMANTICS;

describe("rotation engine, standard mode", () => {
  it.each(SEMANTICS)("%s: rotates end to end, waiting out the soak before promoting", async (semantics) => {
    const w = makeWorld({ semantics });
    const engine = makeEngine(w);

    const first = await engine.start(PATH, { ...FLAG_START, reason: "INC-42" });
    expect(first).toMatchObject({ kind: "waiting", waiting: "soak", step: "published" });
    if (first.kind !== "waiting") return;
    expect(first.until.getTime()).toBe(Date.parse(T0) + SETTINGS.soakMs);

    // During the soak both pairs work and KV offers both: consumers switch at their own pace.
    const soaking = w.store.current(PATH);
    expect(soaking.data["previous_client_id"]).toBe(w.original.clientId);
    expect(soaking.data["previous_key"]).toBe(w.original.secret);
    expect(soaking.metadata["rotation_state"]).toBe("awaiting_promotion");
    expect(w.issuer.validPairs().map((p) => p.role)).toEqual(["main", "staged"]);
    expect(w.issuer.promotions).toBe(0);

    w.clock.advance(5 * MINUTE);
    expect(await engine.resume(PATH)).toMatchObject({ kind: "waiting", waiting: "soak" });
    expect(w.issuer.promotions).toBe(0);

    w.clock.advance(10 * MINUTE);
    const done = await engine.resume(PATH);
    expect(done).toMatchObject({ kind: "completed", mode: "standard", sinkFailures: 0, outageMs: undefined });
    expectRotatedCleanly(w);

    const kv = w.store.current(PATH);
    const main = w.issuer.mainPair(w.target);
    expect(done).toMatchObject({ keyFingerprint: fingerprint(main.clientId), kvVersion: 2 });
    // Version 1 the seed, 2 the publish, 3 previous_* cleared.
    expect(kv.version).toBe(3);
    expect(kv.data["rotated_by"]).toBe("operator-flag");
    const now = w.clock.now().toISOString();
    expect(kv.metadata).toMatchObject({
      rotation_verified_at: now,
      last_rotated: now,
      next_rotation_due: new Date(w.clock.now().getTime() + 30 * 24 * 60 * MINUTE).toISOString(),
    });
    expect(kv.metadata["rotate_reason"]).toBeUndefined();
    expect(kv.metadata["last_rotation_error"]).toBeUndefined();
    expect(w.state.lease(PATH)).toBeUndefined();

    expect(w.audit.types()).toEqual([
      "rotation.started",
      "consumer.owned",
      "rotation.staged",
      "rotation.verified",
      "rotation.published",
      "rotation.resumed",
      "rotation.promoted",
      "rotation.verified",
      "rotation.retired",
      "rotation.completed",
    ]);
    for (const e of w.audit.events) {
      expect(e).toMatchObject({ path: PATH, mode: "standard", trigger: "flag", reason: "INC-42" });
    }
    expect(w.audit.events.at(-1)?.keyFingerprint).toBe(fingerprint(main.clientId));
    expect(w.notifier.sent).toHaveLength(1);
    expect(w.notifier.sent[0]).toMatchObject({ kind: "rotation.completed", path: PATH });
    expect(w.notifier.sent[0]?.text).toContain("INC-42");
  });

  it("with soak 0 in the metadata, rotates in one call", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    expect(await makeEngine(w).start(PATH, FLAG_START)).toMatchObject({ kind: "completed" });
    expectRotatedCleanly(w);
  });

  it("takes the soak from the credential's metadata over the configured default", async () => {
    const w = makeWorld({ metadata: { soak: "2h" } });
    const out = await makeEngine(w).start(PATH, FLAG_START);
    expect(out.kind === "waiting" && out.until.getTime() - Date.parse(T0)).toBe(120 * MINUTE);
  });

  it("needs no lease and writes nothing to report a soak that is still running", async () => {
    const w = makeWorld();
    await makeEngine(w).start(PATH, FLAG_START);
    const before = [w.state.snapshot(), w.store.snapshot(), w.issuer.snapshot()];
    const other = makeEngine(w, { owner: "replica-b" });
    expect(await other.resume(PATH)).toMatchObject({ kind: "waiting", waiting: "soak" });
    expect([w.state.snapshot(), w.store.snapshot(), w.issuer.snapshot()]).toEqual(before);
  });

  it("lets any replica finish after the soak: the lease was released, the fence goes up", async () => {
    const w = makeWorld();
    await makeEngine(w).start(PATH, FLAG_START);
    expect(w.state.journal(PATH)?.fence).toBe(1);
    expect(w.state.lease(PATH)?.expiresAt.getTime()).toBe(w.clock.now().getTime());
    w.clock.advance(SETTINGS.soakMs);
    const fences = new Set<number>();
    const interceptor = new Interceptor({
      before: () => {
        const j = w.state.journal(PATH);
        if (j !== undefined) fences.add(j.fence);
      },
    });
    const out = await makeEngine(w, { owner: "replica-b", interceptor }).resume(PATH);
    expect(out.kind).toBe("completed");
    expect([...fences]).toEqual([1, 2]);
    expect(w.audit.events.find((e) => e.type === "rotation.resumed")).toBeDefined();
    expectRotatedCleanly(w);
  });

  it("waits for retire_after before killing the old pair, which keeps working meanwhile", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    const engine = makeEngine(w, { settings: { retireAfterMs: 60 * MINUTE } });
    const out = await engine.start(PATH, FLAG_START);
    expect(out).toMatchObject({ kind: "waiting", waiting: "retire", step: "verified_main" });
    expect(w.issuer.validPairs().some((p) => p.clientId === w.original.clientId)).toBe(true);
    w.clock.advance(60 * MINUTE);
    expect(await engine.resume(PATH)).toMatchObject({ kind: "completed" });
    expectRotatedCleanly(w);
  });

  it.each(ROTATE_SEMANTICS)(
    "%s: asks once after promotion whether the old key died with it, and waits retire_after only when it lives",
    async (semantics) => {
      const w = makeWorld({ semantics, metadata: { soak: "0s" } });
      const engine = makeEngine(w, { settings: { retireAfterMs: 60 * MINUTE } });
      const out = await engine.start(PATH, FLAG_START);
      const probes = w.issuer.calls.filter((c) => c === "provePairDead");
      if (semantics === "immediate") {
        // Nothing to wait for: previous_* would name a dead pair for the whole hour. Retired at once (the probe,
        // then the proof after the rotated record's DELETE), previous_* cleared.
        expect(out).toMatchObject({ kind: "completed" });
        expect(probes).toHaveLength(2);
        expectRotatedCleanly(w);
        return;
      }
      expect(out).toMatchObject({ kind: "waiting", waiting: "retire", step: "verified_main" });
      expect(probes).toHaveLength(1);
      expect(w.issuer.validPairs().map((p) => p.clientId)).toContain(w.original.clientId);
      expect(w.store.current(PATH).data).toMatchObject({ previous_client_id: w.original.clientId });
    },
  );

  it("keeps the retire_after wait when Salesforce cannot say whether the old key died at promotion", async () => {
    const w = makeWorld({ semantics: "immediate", metadata: { soak: "0s" } });
    w.issuer.failNext(
      "provePairDead",
      new RotatorError("SALESFORCE_UNAVAILABLE", "503", { retryable: true }),
    );
    const engine = makeEngine(w, { settings: { retireAfterMs: 60 * MINUTE } });
    expect(await engine.start(PATH, FLAG_START)).toMatchObject({ kind: "waiting", waiting: "retire" });
    w.clock.advance(60 * MINUTE);
    expect(await engine.resume(PATH)).toMatchObject({ kind: "completed" });
    expectRotatedCleanly(w);
  });

  it("waits out Salesforce's propagation delay when verifying the new pair", async () => {
    const w = makeWorld({ propagationDelayMs: 40_000, metadata: { soak: "0s" } });
    expect(await makeEngine(w).start(PATH, FLAG_START)).toMatchObject({ kind: "completed" });
    expectRotatedCleanly(w);
  });

  it("starts from the CLI without a flag, and takes the reason it was given", async () => {
    const w = makeWorld({ metadata: { rotate: undefined, soak: "0s" } });
    const out = await makeEngine(w).start(PATH, {
      mode: "standard",
      trigger: "cli",
      actor: "cli",
      reason: "drill",
    });
    expect(out.kind).toBe("completed");
    expect(w.audit.events[0]).toMatchObject({ trigger: "cli", actor: "cli", reason: "drill" });
  });

  it("takes rotate_reason from the metadata when a flag started it", async () => {
    const w = makeWorld({ metadata: { rotate_reason: "CHG-7", soak: "0s" } });
    await makeEngine(w).start(PATH, FLAG_START);
    expect(w.audit.events.every((e) => e.reason === "CHG-7")).toBe(true);
    expect(w.store.current(PATH).metadata["rotate_reason"]).toBeUndefined();
  });

  it("skips a flag trigger whose flag is already cleared (another process handled it)", async () => {
    const w = makeWorld({ metadata: { rotate: undefined } });
    const out = await makeEngine(w).start(PATH, FLAG_START);
    expect(out).toMatchObject({ kind: "skipped" });
    expect(w.issuer.stagedPosts).toBe(0);
    expect(w.state.lease(PATH)).toBeUndefined();
  });

  it("skips when the credential changed since the scheduler decided", async () => {
    const w = makeWorld();
    const out = await makeEngine(w).start(PATH, { ...FLAG_START, trigger: "schedule", expectKvVersion: 7 });
    expect(out).toMatchObject({ kind: "skipped" });
    expect(w.issuer.stagedPosts).toBe(0);
  });

  it("skips invalid metadata with the reason, and touches nothing", async () => {
    const w = makeWorld({ metadata: { rotation_period: "soon" } });
    const before = w.store.snapshot();
    const out = await makeEngine(w).start(PATH, FLAG_START);
    expect(out).toMatchObject({ kind: "skipped", code: "POLICY_INVALID" });
    expect(out.kind === "skipped" && out.reason).toContain("rotation_period");
    expect(w.store.snapshot()).toEqual(before);
  });

  it("skips an unmanaged entry and a provider it does not rotate", async () => {
    const w = makeWorld({ metadata: { provider: "manual" } });
    expect(await makeEngine(w).start(PATH, FLAG_START)).toMatchObject({ kind: "skipped" });
    const missing = await makeEngine(w).start("api-credentials/nope", FLAG_START);
    expect(missing).toMatchObject({ kind: "skipped", code: "VAULT_NOT_FOUND" });
  });

  it("resumes the unfinished rotation when asked to start again, never starting a second one", async () => {
    const w = makeWorld();
    const engine = makeEngine(w);
    await engine.start(PATH, FLAG_START);
    const again = await engine.start(PATH, FLAG_START);
    expect(again).toMatchObject({ kind: "waiting" });
    expect(w.issuer.stagedPosts).toBe(1);
  });

  it("merges over a KV version someone else wrote meanwhile when they left the pair alone", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    w.issuer.failNext("verifyPair", new Error("network blip"), { after: 1 });
    const engine = makeEngine(w);
    expect(await engine.start(PATH, FLAG_START)).toMatchObject({ kind: "failed", willRetry: true });
    const cur = w.store.current(PATH);
    w.store.put(PATH, { ...cur.data, endpoint: "https://crm2.example.com" });
    passBackoff(w);
    expect(await engine.resume(PATH)).toMatchObject({ kind: "completed" });
    expect(w.store.current(PATH).data["endpoint"]).toBe("https://crm2.example.com");
    expect(w.issuer.mainPair(w.target).clientId).toBe(w.store.current(PATH).data["client_id"]);
  });

  it("rolls back, not overwrites, when someone replaced the pair in KV during the rotation", async () => {
    const w = makeWorld();
    w.issuer.failNext("verifyPair", new Error("network blip"), { after: 1 });
    const engine = makeEngine(w);
    await engine.start(PATH, FLAG_START);
    const cur = w.store.current(PATH);
    w.store.put(PATH, { ...cur.data, client_id: "3MVG-hand-made", api_key: "test-secret-canary-hand" });
    passBackoff(w);
    const out = await engine.resume(PATH);
    expect(out).toMatchObject({ kind: "rolled_back", code: "ROTATION_STATE_MISMATCH" });
    expect(w.store.current(PATH).data["client_id"]).toBe("3MVG-hand-made");
    expect(w.issuer.stagedRecord(w.target)).toBeUndefined();
    expect(w.issuer.promotions).toBe(0);
  });
});

describe("rotation engine, what one engine call does not ask twice", () => {
  /** The issuer calls after the first `promote`, in order. */
  const afterPromote = (log: readonly string[]) =>
    log
      .filter((n) => n.startsWith("issuer."))
      .slice(log.filter((n) => n.startsWith("issuer.")).indexOf("issuer.promote") + 1);

  it("finds an unfinished rotation by its journal when the metadata no longer says one runs", async () => {
    const w = makeWorld();
    const engine = makeEngine(w);
    expect(await engine.start(PATH, FLAG_START)).toMatchObject({ kind: "waiting", waiting: "soak" });
    // Someone resets rotation_state by hand: nothing in the metadata tells of the journal now.
    w.store.patchByHand(PATH, { rotation_state: "idle", rotate: "now" });
    const again = await engine.start(PATH, FLAG_START);
    expect(again).toMatchObject({
      kind: "waiting",
      waiting: "soak",
      rotationId: w.state.journal(PATH)?.rotationId,
    });
    expect(w.issuer.stagedPosts).toBe(1);
  });

  it.each(SEMANTICS)(
    "%s: takes the main key from the consumer list, posts without listing first, promotes after one list, retires by the promoted id",
    async (semantics) => {
      const w = makeWorld({ semantics, metadata: { soak: "0s" } });
      const interceptor = new Interceptor();
      expect(await makeEngine(w, { interceptor }).start(PATH, FLAG_START)).toMatchObject({
        kind: "completed",
      });
      expect(interceptor.log.filter((n) => n.startsWith("issuer."))).toEqual([
        "issuer.resolveTarget",
        "issuer.ownClientId",
        "issuer.listStaged",
        "issuer.orgId",
        "issuer.verifyPair",
        "issuer.createStaged",
        "issuer.verifyPair",
        "issuer.listStaged",
        "issuer.promote",
        "issuer.verifyPair",
        "issuer.deleteStaged",
        "issuer.provePairDead",
      ]);
      expectRotatedCleanly(w);
      expect(w.issuer.stagedRecord(w.target)).toBeUndefined();
    },
  );

  it.each(SEMANTICS)(
    "%s: lists the rotated record when the promoted id finds none, and still proves the old key dead",
    async (semantics) => {
      const w = makeWorld({ semantics, metadata: { soak: "0s" } });
      w.issuer.rotatedRecordGetsNewId = true;
      const interceptor = new Interceptor();
      expect(await makeEngine(w, { interceptor }).start(PATH, FLAG_START)).toMatchObject({
        kind: "completed",
      });
      expect(afterPromote(interceptor.log)).toEqual([
        "issuer.verifyPair",
        "issuer.deleteStaged", // by the promoted id: nothing there
        "issuer.listStaged",
        "issuer.deleteStaged", // the rotated record, by the id listed
        "issuer.provePairDead",
      ]);
      expectRotatedCleanly(w);
      expect(w.issuer.stagedRecord(w.target)).toBeUndefined();
    },
  );

  it("lists and deletes again when the old key is still known after the DELETE by id, and proves again", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    let answered = false;
    // The first proof finds the old key still known (a Salesforce slow to forget it, say).
    const slow = new Proxy(w.issuer, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (prop !== "provePairDead" || typeof value !== "function")
          return typeof value === "function" ? value.bind(target) : value;
        return async (...args: Parameters<typeof target.provePairDead>) => {
          if (answered) return value.apply(target, args);
          answered = true;
          return { dead: false, answer: "invalid_client" };
        };
      },
    });
    const interceptor = new Interceptor();
    const out = await makeEngine(w, { interceptor, ports: { issuer: slow } }).start(PATH, FLAG_START);
    expect(out).toMatchObject({ kind: "completed" });
    expect(afterPromote(interceptor.log)).toEqual([
      "issuer.verifyPair",
      "issuer.deleteStaged",
      "issuer.provePairDead",
      "issuer.listStaged",
      "issuer.provePairDead",
    ]);
    expect(w.state.journal(PATH)).toBeUndefined();
    expectRotatedCleanly(w);
  });

  it("reads the main key when its staged set is no longer active, and goes on when a person promoted it", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    let promotedByHand = false;
    const interceptor = new Interceptor({
      before: (name) => {
        const j = w.state.journal(PATH);
        if (!promotedByHand && name === "issuer.listStaged" && j?.step === "promoting" && j.stagedId) {
          promotedByHand = true;
          void w.issuer.promote(w.target, j.stagedId); // in Setup, between the publication and our PATCH
        }
      },
    });
    expect(await makeEngine(w, { interceptor }).start(PATH, FLAG_START)).toMatchObject({ kind: "completed" });
    expect(promotedByHand).toBe(true);
    const calls = interceptor.log.filter((n) => n.startsWith("issuer."));
    const promoteStep = calls.slice(
      calls.indexOf("issuer.createStaged") + 2,
      calls.indexOf("issuer.createStaged") + 4,
    );
    expect(promoteStep).toEqual(["issuer.listStaged", "issuer.readMainKey"]);
    expect(calls).not.toContain("issuer.promote");
    expectRotatedCleanly(w);
  });

  it("reads the main key first when promotion runs in a later call (after the soak)", async () => {
    const w = makeWorld();
    const engine = makeEngine(w);
    expect(await engine.start(PATH, FLAG_START)).toMatchObject({ kind: "waiting", waiting: "soak" });
    w.clock.advance(SETTINGS.soakMs);
    const interceptor = new Interceptor();
    expect(await makeEngine(w, { interceptor }).resume(PATH)).toMatchObject({ kind: "completed" });
    expect(interceptor.log.filter((n) => n.startsWith("issuer.")).slice(0, 4)).toEqual([
      "issuer.readMainKey",
      "issuer.listStaged",
      "issuer.promote",
      "issuer.verifyPair",
    ]);
    // This call promoted, so it deletes the rotated record by the promoted id.
    expect(afterPromote(interceptor.log)).toEqual([
      "issuer.verifyPair",
      "issuer.deleteStaged",
      "issuer.provePairDead",
    ]);
    expectRotatedCleanly(w);
  });

  it("lists the rotated record when it retires in a later call than the promotion (after retire_after)", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    const settings = { retireAfterMs: 60 * MINUTE };
    expect(await makeEngine(w, { settings }).start(PATH, FLAG_START)).toMatchObject({ waiting: "retire" });
    w.clock.advance(60 * MINUTE);
    const interceptor = new Interceptor();
    expect(await makeEngine(w, { interceptor, settings }).resume(PATH)).toMatchObject({ kind: "completed" });
    expect(interceptor.log.filter((n) => n.startsWith("issuer."))).toEqual([
      "issuer.listStaged",
      "issuer.deleteStaged",
      "issuer.provePairDead",
    ]);
    expectRotatedCleanly(w);
  });
});
