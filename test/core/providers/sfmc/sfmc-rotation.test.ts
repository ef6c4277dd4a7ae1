import { describe, expect, it } from "vitest";
import { MINUTE, SETTINGS } from "../../rotation/rotation-world.ts";
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

  it("records the first path a package's secret works for as its owner, and refuses a second path before sending anything", async () => {
    const w = makeSfmcWorld();
    const first = await makeSfmcEngine(w).start(MPATH, FLAG);
    expect(first).toMatchObject({ kind: "waiting" });
    expect(Object.values(w.state.owners())).toMatchObject([
      { path: MPATH, subject: "Marketing Cloud tenant mc, package client id mc-client-1" },
    ]);
    // Another path names the same package with a secret that works (a copy, or a second paste).
    const copy = "api-credentials/other-team/crm-sync-copy";
    w.store.put(
      copy,
      { client_id: "mc-client-1", api_key: OLD, pending_api_key: NEW },
      { provider: "sfmc", sfmc_tenant: "mc", rotate: "now" },
    );
    const asked = w.tenant.asked.length;
    const out = await makeSfmcEngine(w).start(copy, FLAG);
    expect(out).toMatchObject({ kind: "failed", code: "POLICY_CONSUMER_OWNED" });
    expect(out.kind === "failed" && out.message).toContain(`consumer already managed at ${MPATH}`);
    expect(w.tenant.asked.length).toBe(asked);
    expect(w.store.current(copy).data["api_key"]).toBe(OLD);
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

  it("never takes a secret's destination from the metadata: sfmc_auth_url makes the entry invalid", async () => {
    const w = makeSfmcWorld({ metadata: { sfmc_auth_url: "https://attacker.example" } });
    const out = await makeSfmcEngine(w).start(MPATH, FLAG);
    expect(out).toMatchObject({ kind: "skipped", code: "POLICY_INVALID" });
    expect(out.kind === "skipped" && out.reason).toContain("add the tenant under marketing_cloud.tenants");
    expect(w.tenant.asked).toEqual([]);
    expect(w.state.journal(MPATH)).toBeUndefined();
    expect(w.store.history(MPATH)).toHaveLength(1);
  });

  it("refuses an sfmc_tenant the config does not name before asking anyone", async () => {
    const w = makeSfmcWorld({ metadata: { sfmc_tenant: "attacker" } });
    const out = await makeSfmcEngine(w).start(MPATH, FLAG);
    expect(out).toMatchObject({ kind: "skipped", code: "POLICY_INVALID" });
    expect(out.kind === "skipped" && out.reason).toBe(
      "sfmc_tenant attacker is not in marketing_cloud.tenants (configured: mc)",
    );
    expect(w.tenant.asked).toEqual([]);
  });

  it("sends every secret to the tenant pinned at the start, whatever the metadata says later", async () => {
    const w = makeSfmcWorld({ metadata: { soak: "1h" } });
    const second = {
      name: "mc-2",
      origin: "https://mc-two.auth.marketingcloudapis.com",
      prefixes: undefined,
    };
    const settings = {
      ...SETTINGS,
      destinations: { ...SETTINGS.destinations, tenants: [...SETTINGS.destinations.tenants, second] },
    };
    const engine = () => makeSfmcEngine(w, { settings });
    expect(await engine().start(MPATH, FLAG)).toMatchObject({ kind: "waiting", waiting: "soak" });
    expect(w.state.journal(MPATH)).toMatchObject({ destination: "mc", destinationOrigin: AUTH_URL });
    // Someone re-points the credential at another configured tenant during the soak.
    w.store.patchByHand(MPATH, { sfmc_tenant: "mc-2" });
    w.clock.advance(60 * 60_000);
    await engine().resume(MPATH);
    expect(w.tenant.asked.length).toBeGreaterThan(1);
    for (const asked of w.tenant.asked) expect(asked.startsWith(`${AUTH_URL} `)).toBe(true);
  });

  it("stops before sending anything when the pinned tenant's auth host changed in the config", async () => {
    const w = makeSfmcWorld({ metadata: { soak: "1h" } });
    expect(await makeSfmcEngine(w).start(MPATH, FLAG)).toMatchObject({ kind: "waiting" });
    const asked = w.tenant.asked.length;
    const moved = {
      ...SETTINGS,
      destinations: {
        ...SETTINGS.destinations,
        tenants: [
          { name: "mc", origin: "https://elsewhere.auth.marketingcloudapis.com", prefixes: undefined },
        ],
      },
    };
    w.clock.advance(60 * 60_000);
    const out = await makeSfmcEngine(w, { settings: moved }).resume(MPATH);
    expect(out).toMatchObject({ kind: "failed", code: "ROTATION_STATE_MISMATCH" });
    expect(out.kind === "failed" && out.message).toContain("no longer sends mc's secrets to");
    expect(w.tenant.asked.length).toBe(asked);
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
