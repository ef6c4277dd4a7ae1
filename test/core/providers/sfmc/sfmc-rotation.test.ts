import { describe, expect, it } from "vitest";
import { MINUTE } from "../../rotation/rotation-world.ts";
import {
  AUTH_URL,
  expectSfmcCleanly,
  FLAG,
  MPATH,
  makeSfmcEngine,
  makeSfmcWorld,
  NEW,
  OLD,
  visibleOutput,
} from "./sfmc-world.ts";

describe("provider=sfmc, assisted rotation", () => {
  it("verifies the pending secret, publishes it with the old one as previous_key, and asks for activation in Setup", async () => {
    const w = makeSfmcWorld();
    const engine = makeSfmcEngine(w);
    const first = await engine.start(MPATH, FLAG);
    expect(first).toMatchObject({ kind: "waiting", waiting: "soak", step: "published", provider: "sfmc" });
    const kv = w.store.current(MPATH);
    expect(kv.data["api_key"]).toBe(NEW);
    expect(kv.data["previous_key"]).toBe(OLD);
    expect(kv.data["pending_api_key"]).toBe("");
    expect(kv.metadata["rotation_state"]).toBe("awaiting_promotion");
    expect(kv.metadata["rotate"]).toBeUndefined();
    expect(w.tenant.asked[0]).toBe(`${AUTH_URL} mc-client-1`);
    // Chat asks for the one step only a person can do, as an action (not as a completion).
    expect(w.notifier.sent.map((n) => n.kind)).toEqual(["rotation.action_needed"]);
    expect(w.notifier.sent[0]?.text).toContain(
      "ACTION: activate the staged secret in Setup → Installed Packages after 2026-03-02T10:15:00.000Z",
    );
    expect(w.notifier.sent[0]?.text).toContain("then set rotate=now");

    // After the soak the old secret still works (not activated yet): the rotation waits and looks again.
    w.clock.advance(15 * MINUTE);
    const waiting = await engine.resume(MPATH);
    expect(waiting).toMatchObject({ kind: "waiting", waiting: "confirm" });
    expect(w.store.current(MPATH).data["previous_key"]).toBe(OLD);

    // The operator activates in Setup and sets rotate=now: the old secret is refused, previous_key cleared.
    w.tenant.activate(NEW);
    w.store.patchByHand(MPATH, { rotate: "now" });
    const done = await engine.start(MPATH, FLAG);
    expect(done).toMatchObject({ kind: "completed", provider: "sfmc" });
    expectSfmcCleanly(w);
    const meta = w.store.current(MPATH).metadata;
    expect(meta["expires_at"]).toBe("2026-08-29T10:00:00.000Z");
    expect(w.audit.types()).toContain("rotation.retired");
    // Exactly two chat notices: the action, then the completion in plain words.
    expect(w.notifier.sent.map((n) => n.kind)).toEqual(["rotation.action_needed", "rotation.completed"]);
    const completed = w.notifier.sent[1]?.text ?? "";
    expect(completed).toContain("Marketing Cloud refuses the old secret, so previous_key is cleared");
    expect(completed).toContain("rotation_verified_at is stamped and expires_at is 2026-08-29T10:00:00.000Z");
    const visible = visibleOutput(w, [first, waiting, done]);
    expect(visible).not.toContain("test-secret-canary");
  });

  it("refuses a pending secret Marketing Cloud does not accept, with a clear message, and publishes nothing", async () => {
    const w = makeSfmcWorld({ pending: "test-secret-canary-sfmc-typo" });
    const out = await makeSfmcEngine(w).start(MPATH, FLAG);
    expect(out).toMatchObject({ kind: "failed", code: "ROTATION_VERIFY_FAILED", willRetry: false });
    expect(out.kind === "failed" && out.message).toMatch(
      /refused the secret in pending_api_key.*nothing was published/,
    );
    expect(w.store.history(MPATH)).toHaveLength(1);
    const kv = w.store.current(MPATH);
    expect(kv.data["api_key"]).toBe(OLD);
    expect(kv.data["pending_api_key"]).toBe("test-secret-canary-sfmc-typo");
    expect(kv.metadata["rotation_state"]).toBe("failed");
    expect(w.state.journal(MPATH)).toBeUndefined();
    expect(w.notifier.sent[0]?.text).toContain("Nothing was published");
    expect(visibleOutput(w, [out])).not.toContain("test-secret-canary");
  });

  it("fails at once without a pending secret and says how to provide one", async () => {
    const w = makeSfmcWorld({ pending: undefined });
    const out = await makeSfmcEngine(w).start(MPATH, FLAG);
    expect(out).toMatchObject({ kind: "failed", code: "USAGE" });
    expect(out.kind === "failed" && out.message).toContain("paste it into pending_api_key");
    expect(w.store.history(MPATH)).toHaveLength(1);
  });

  it("refuses a credential without a usable sfmc_auth_url before asking anyone", async () => {
    const w = makeSfmcWorld({ metadata: { sfmc_auth_url: "http://mc.example.com" } });
    const out = await makeSfmcEngine(w).start(MPATH, FLAG);
    expect(out).toMatchObject({ kind: "failed", code: "POLICY_INVALID" });
    expect(w.tenant.asked).toEqual([]);
  });

  it("an emergency skips the soak and proves the old secret dead as soon as Setup activated the new one", async () => {
    const w = makeSfmcWorld({ metadata: { rotate: "emergency" } });
    const engine = makeSfmcEngine(w);
    const emergency = { mode: "emergency", trigger: "flag", actor: "operator-flag" } as const;
    expect(await engine.start(MPATH, emergency)).toMatchObject({ kind: "waiting", waiting: "confirm" });
    expect(w.notifier.sent.map((n) => n.kind)).toEqual(["rotation.action_needed"]);
    expect(w.notifier.sent[0]?.text).toContain("EMERGENCY rotation of");
    expect(w.notifier.sent[0]?.text).toContain(
      "activate the staged secret in Setup → Installed Packages now",
    );
    w.tenant.activate(NEW);
    const done = await engine.resume(MPATH);
    expect(done).toMatchObject({ kind: "completed" });
    expectSfmcCleanly(w);
    expect(w.notifier.sent.map((n) => n.kind)).toEqual(["rotation.action_needed", "rotation.emergency"]);
    expect(w.notifier.sent[1]?.text).toContain("Marketing Cloud refuses the old secret");
    expect(visibleOutput(w, [done])).not.toContain("test-secret-canary");
  });
});
