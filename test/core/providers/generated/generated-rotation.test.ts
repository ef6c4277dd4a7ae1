import { describe, expect, it } from "vitest";
import { RotatorError } from "../../../../src/core/errors.ts";
import { Interceptor, MINUTE } from "../../rotation/rotation-world.ts";
import {
  expectGeneratedCleanly,
  FLAG,
  GPATH,
  makeGeneratedEngine,
  makeGeneratedWorld,
  OLD_SECRET,
  visibleOutput,
} from "./generated-world.ts";

describe("provider=generated, standard mode", () => {
  it("publishes the new secret beside the old one, waits out the soak, then clears previous_secret", async () => {
    const w = makeGeneratedWorld();
    const engine = makeGeneratedEngine(w);

    const first = await engine.start(GPATH, FLAG);
    expect(first).toMatchObject({
      kind: "waiting",
      waiting: "soak",
      step: "published",
      provider: "generated",
    });
    const during = w.store.current(GPATH);
    expect(during.data["current_secret"]).toBe(w.drawn[0]);
    expect(during.data["previous_secret"]).toBe(OLD_SECRET);
    expect(during.data["rotation_phase"]).toBe("dual-accept");
    expect(during.metadata["rotation_state"]).toBe("awaiting_promotion");
    // The flag that started it is spent: a new rotate=now would mean "the sender is updated".
    expect(during.metadata["rotate"]).toBeUndefined();

    expect(await engine.resume(GPATH)).toMatchObject({ kind: "waiting", waiting: "soak" });
    w.clock.advance(15 * MINUTE);
    const done = await engine.resume(GPATH);
    expect(done).toMatchObject({ kind: "completed", provider: "generated", keyFingerprint: undefined });

    expect(expectGeneratedCleanly(w)).toBe(w.drawn[0]);
    expect(w.drawn).toHaveLength(1);
    expect(w.audit.types()).toEqual([
      "rotation.started",
      "rotation.staged",
      "rotation.published",
      "rotation.resumed",
      "rotation.retired",
      "rotation.completed",
    ]);
    expect(w.audit.events.every((e) => e.provider === "generated")).toBe(true);
    // With the soak nobody has to act: no notice at publication, one when the overlap is over.
    expect(w.notifier.sent.map((n) => n.kind)).toEqual(["rotation.completed"]);
    expect(w.notifier.sent[0]?.text).toContain("dual-accept overlap is over");
    expect(w.state.lease(GPATH)).toBeUndefined();
    const visible = visibleOutput(w, [first, done]);
    expect(visible).not.toContain(OLD_SECRET);
    expect(visible).not.toContain(w.drawn[0]);
    expect(visible).not.toContain("test-secret-canary");
  });

  it("completes in one call with soak 0, and counts the next deadline from now", async () => {
    const w = makeGeneratedWorld({ metadata: { soak: "0s", rotation_period: "180d" } });
    const out = await makeGeneratedEngine(w).start(GPATH, FLAG);
    expect(out).toMatchObject({ kind: "completed" });
    expectGeneratedCleanly(w);
    expect(w.store.current(GPATH).metadata["next_rotation_due"]).toBe("2026-08-29T10:00:00.000Z");
  });

  it("with confirm_by=flag waits for an operator however long it takes, and a rotate=now ends the overlap", async () => {
    const w = makeGeneratedWorld({ metadata: { confirm_by: "flag" } });
    const engine = makeGeneratedEngine(w);
    const first = await engine.start(GPATH, FLAG);
    expect(first).toMatchObject({ kind: "waiting", waiting: "confirm" });
    // Chat tells the operator at once what only they can do.
    expect(w.notifier.sent.map((n) => n.kind)).toEqual(["rotation.action_needed"]);
    const action = w.notifier.sent[0]?.text ?? "";
    expect(action).toContain("receivers now accept both current_secret");
    expect(action).toContain("and previous_secret (the old one)");
    expect(action).toContain(
      "ACTION: update the sender to sign with current_secret, then set rotate=now to end the overlap",
    );
    w.clock.advance(3 * 24 * 60 * MINUTE);
    expect(await engine.resume(GPATH)).toMatchObject({ kind: "waiting", waiting: "confirm" });
    expect(w.store.current(GPATH).data["rotation_phase"]).toBe("dual-accept");

    // The operator's flag, acted on by the next cycle as a start with trigger flag.
    w.store.patchByHand(GPATH, { rotate: "now", rotate_reason: "sender switched" });
    const done = await engine.start(GPATH, FLAG);
    expect(done).toMatchObject({ kind: "completed" });
    expectGeneratedCleanly(w);
    expect(w.drawn).toHaveLength(1);
    expect(w.audit.types()).toContain("rotation.resumed");
    // Waiting sent nothing more; the end of the overlap is the completion.
    expect(w.notifier.sent.map((n) => n.kind)).toEqual(["rotation.action_needed", "rotation.completed"]);
    const visible = visibleOutput(w, [first, done]);
    expect(visible).not.toContain(w.drawn[0]);
    expect(visible).not.toContain("test-secret-canary");
  });

  it("never lets the schedule confirm an overlap that waits for an operator", async () => {
    const w = makeGeneratedWorld({ metadata: { confirm_by: "flag" } });
    const engine = makeGeneratedEngine(w);
    await engine.start(GPATH, FLAG);
    const again = await engine.start(GPATH, { mode: "standard", trigger: "schedule", actor: "scheduler" });
    expect(again).toMatchObject({ kind: "waiting", waiting: "confirm" });
    expect(w.store.current(GPATH).data["previous_secret"]).toBe(OLD_SECRET);
  });

  it("merges over a KV version in which someone changed only other fields", async () => {
    const w = makeGeneratedWorld({ metadata: { soak: "0s" } });
    const i = new Interceptor({
      before: (name) => {
        if (name === "store.writeFields" && w.store.history(GPATH).length === 1) {
          w.store.put(GPATH, { ...w.store.current(GPATH).data, endpoint: "https://hooks2.example.com" });
        }
      },
    });
    const out = await makeGeneratedEngine(w, { interceptor: i }).start(GPATH, FLAG);
    expect(out).toMatchObject({ kind: "completed" });
    const kv = w.store.current(GPATH);
    expect(kv.data["endpoint"]).toBe("https://hooks2.example.com");
    expect(kv.data["current_secret"]).toBe(w.drawn[0]);
  });

  it("refuses to overwrite a current_secret someone else replaced, and rolls back without touching it", async () => {
    const w = makeGeneratedWorld();
    const i = new Interceptor({
      before: (name) => {
        if (name === "store.writeFields" && w.store.history(GPATH).length === 1) {
          w.store.put(GPATH, { current_secret: "test-secret-canary-someone-else", endpoint: "x" });
        }
      },
    });
    const out = await makeGeneratedEngine(w, { interceptor: i }).start(GPATH, FLAG);
    expect(out).toMatchObject({ kind: "rolled_back", code: "ROTATION_STATE_MISMATCH", kvVersion: undefined });
    const kv = w.store.current(GPATH);
    expect(kv.data["current_secret"]).toBe("test-secret-canary-someone-else");
    expect(kv.metadata["rotation_state"]).toBe("failed");
    expect(kv.metadata["last_rotation_error"]).toContain("changed by someone else");
    expect(w.state.journal(GPATH)).toBeUndefined();
    expect(JSON.stringify(out)).not.toContain("canary");
  });

  it("reads again after a cas conflict on its own write and publishes once", async () => {
    const w = makeGeneratedWorld({ metadata: { soak: "0s" } });
    w.store.failNext("writeFields", new RotatorError("VAULT_CAS_CONFLICT", "cas mismatch"));
    expect(await makeGeneratedEngine(w).start(GPATH, FLAG)).toMatchObject({ kind: "completed" });
    expectGeneratedCleanly(w);
  });

  it("rolls back during the overlap: the old secret is current again and previous_secret cleared", async () => {
    const w = makeGeneratedWorld();
    const engine = makeGeneratedEngine(w);
    await engine.start(GPATH, FLAG);
    const out = await engine.rollback(GPATH, { actor: "cli", reason: "receiver not ready" });
    expect(out).toMatchObject({ kind: "rolled_back", provider: "generated", kvVersion: 3 });
    const kv = w.store.current(GPATH);
    expect(kv.data["current_secret"]).toBe(OLD_SECRET);
    expect(kv.data["previous_secret"]).toBe("");
    expect(kv.data["rotation_phase"]).toBe("complete");
    expect(kv.metadata["rotation_state"]).toBe("failed");
    expect(kv.metadata["last_rotation_error"]).toBe("rolled back by cli: receiver not ready");
    expect(w.notifier.sent.map((n) => n.kind)).toEqual(["rotation.rolled_back"]);
    expect(w.state.journal(GPATH)).toBeUndefined();
  });

  it("refuses a rollback once the overlap has ended, and the rotation still finishes", async () => {
    const w = makeGeneratedWorld({ metadata: { soak: "0s" } });
    const i: Interceptor = new Interceptor({
      before: (_name, index) => {
        if (i.crashAfter === undefined && w.state.journal(GPATH)?.step === "retired") i.crashAfter = index;
      },
    });
    await makeGeneratedEngine(w, { interceptor: i, owner: "dead" })
      .start(GPATH, FLAG)
      .catch(() => undefined);
    expect(w.state.journal(GPATH)?.step).toBe("retired");
    w.clock.advance(20 * MINUTE);
    const refused = await makeGeneratedEngine(w).rollback(GPATH, { actor: "cli" });
    expect(refused).toMatchObject({ kind: "failed", code: "ROTATION_ROLLBACK_REFUSED", step: "retired" });
    expect(refused.kind === "failed" && refused.message).toContain("previous_secret is already cleared");
    expect(await makeGeneratedEngine(w).resume(GPATH)).toMatchObject({ kind: "completed" });
    expectGeneratedCleanly(w);
  });

  it("generates a first secret for an entry that has none yet", async () => {
    const w = makeGeneratedWorld({
      data: { endpoint: "https://hooks.example.com" },
      metadata: { soak: "0s" },
    });
    expect(await makeGeneratedEngine(w).start(GPATH, FLAG)).toMatchObject({ kind: "completed" });
    const kv = w.store.current(GPATH);
    expect(kv.data["current_secret"]).toBe(w.drawn[0]);
    expect(kv.data["previous_secret"]).toBe("");
  });

  it("changes nothing without a random source and says why", async () => {
    const w = makeGeneratedWorld();
    const out = await makeGeneratedEngine(w, { noRandom: true }).start(GPATH, FLAG);
    expect(out).toMatchObject({ kind: "failed", code: "CONFIG_INVALID", willRetry: false });
    expect(w.store.history(GPATH)).toHaveLength(1);
    expect(w.state.journal(GPATH)).toBeUndefined();
    expect(w.store.current(GPATH).metadata["rotation_state"]).toBe("failed");
  });

  it("shows its own steps in a dry run", async () => {
    const w = makeGeneratedWorld({ metadata: { confirm_by: "flag" } });
    const plan = await makeGeneratedEngine(w).plan(GPATH, { mode: "standard" });
    expect(plan.steps).toEqual(["claimed", "staged", "published", "retired", "closed"]);
    expect(plan.wouldRotate).toBe(true);
    expect(plan.checks.map((c) => c.detail).join("\n")).toContain("confirm_by=flag");
    expect(w.store.history(GPATH)).toHaveLength(1);
  });
});

describe("provider=generated, emergency mode", () => {
  it("publishes the new secret alone at once and is never rolled back", async () => {
    const w = makeGeneratedWorld({ metadata: { rotate: "emergency" } });
    const out = await makeGeneratedEngine(w).start(GPATH, {
      mode: "emergency",
      trigger: "flag",
      actor: "operator-flag",
      reason: "INC-7",
    });
    expect(out).toMatchObject({ kind: "completed", mode: "emergency" });
    const kv = w.store.current(GPATH);
    expect(kv.data["current_secret"]).toBe(w.drawn[0]);
    expect(kv.data["previous_secret"]).toBe("");
    expect(kv.data["rotation_phase"]).toBe("complete");
    expect(w.store.history(GPATH).map((v) => v["previous_secret"])).not.toContain(OLD_SECRET);
    expect(w.notifier.sent[0]?.kind).toBe("rotation.emergency");
    expect(w.notifier.sent[0]?.text).toContain("INC-7");
  });

  it("ends a running overlap at once when an emergency flag arrives", async () => {
    const w = makeGeneratedWorld();
    const engine = makeGeneratedEngine(w);
    await engine.start(GPATH, FLAG);
    w.store.patchByHand(GPATH, { rotate: "emergency" });
    const out = await engine.start(GPATH, { mode: "emergency", trigger: "flag", actor: "operator-flag" });
    expect(out).toMatchObject({ kind: "completed", mode: "standard" });
    expectGeneratedCleanly(w);
  });

  it("refuses a rollback of an emergency rotation", async () => {
    const w = makeGeneratedWorld();
    const i = new Interceptor({ crashAfter: 3 });
    await makeGeneratedEngine(w, { interceptor: i }).start(GPATH, {
      mode: "emergency",
      trigger: "cli",
      actor: "cli",
    });
    w.clock.advance(20 * MINUTE);
    const out = await makeGeneratedEngine(w).rollback(GPATH, { actor: "cli" });
    expect(out).toMatchObject({ kind: "failed", code: "ROTATION_ROLLBACK_REFUSED" });
  });
});
