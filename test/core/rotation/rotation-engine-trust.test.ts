// Trust boundaries in the engine: a KV path rotates only the app whose working pair it holds (proof of
// possession), one path per app consumer (owner records), the old pair counts as dead only when Salesforce no
// longer knows its key (invalid_client_id, journaled), and a connection's secrets go only where the
// configuration says, for the paths it allows. The attacker here writes a path of their own, as a team with
// write access to its folder can.
import { describe, expect, it } from "vitest";
import { RotatorError } from "../../../src/core/errors.ts";
import type { RotationEngineSettings } from "../../../src/core/rotation/engine-deps.ts";
import {
  expectRotatedCleanly,
  FLAG_START,
  Interceptor,
  MINUTE,
  makeEngine,
  makeWorld,
  PATH,
  passBackoff,
  SETTINGS,
  settle,
} from "./rotation-world.ts";

const ATTACKER = "api-credentials/team-b/not-yours";
const EMERGENCY = { mode: "emergency", trigger: "flag", actor: "operator-flag" } as const;

/** The attacker's own path naming the victim's app and consumer key, with a secret they made up. */
function plantTakeover(w: ReturnType<typeof makeWorld>, secret = "test-secret-canary-made-up") {
  w.store.put(
    ATTACKER,
    { client_id: w.original.clientId, api_key: secret },
    {
      provider: "salesforce-eca",
      eca_app_id: w.target.appId,
      eca_consumer_id: w.target.consumerId,
      sf_connection: "prod",
      soak: "0s",
      rotate: "now",
    },
  );
}

describe("rotation engine, trust boundaries", () => {
  for (const start of [FLAG_START, EMERGENCY]) {
    it(`${start.mode}: refuses a path whose KV pair does not log in, changing nothing at Salesforce`, async () => {
      const w = makeWorld();
      plantTakeover(w);
      const before = w.issuer.snapshot();
      const engine = makeEngine(w);
      // Asked again on later cycles (a new app's pair may still be propagating), then refused for good.
      const outcomes = [await engine.start(ATTACKER, start)];
      expect(outcomes[0]).toMatchObject({
        kind: "failed",
        code: "ROTATION_POSSESSION_UNPROVEN",
        willRetry: true,
      });
      while (outcomes.at(-1)?.kind === "failed" && (outcomes.at(-1) as { willRetry: boolean }).willRetry) {
        expect(w.issuer.snapshot()).toEqual(before);
        passBackoff(w, ATTACKER);
        outcomes.push(await engine.resume(ATTACKER));
      }
      const last = outcomes.at(-1);
      expect(outcomes).toHaveLength(SETTINGS.maxAttempts);
      expect(last).toMatchObject({ kind: "failed", code: "ROTATION_POSSESSION_UNPROVEN", willRetry: false });
      expect(last?.kind === "failed" && last.message).toContain(
        "the client_id/api_key pair in KV does not log in at Salesforce (invalid_client): nothing was changed",
      );
      // Nothing staged, promoted or revoked; the victim's pair still works; no owner recorded for the attacker.
      expect(w.issuer.snapshot()).toEqual(before);
      expect(w.issuer.calls).not.toContain("createStaged");
      expect(w.issuer.validPairs().map((p) => p.clientId)).toEqual([w.original.clientId]);
      expect(Object.values(w.state.owners()).map((o) => o.path)).toEqual([]);
      // The attacker's path holds no secret of the victim's, only what it held before.
      expect(w.store.current(ATTACKER).data["api_key"]).toBe("test-secret-canary-made-up");
      expect(w.store.current(ATTACKER).metadata).toMatchObject({
        rotation_state: "failed",
        last_rotation_error: expect.stringMatching(/^ROTATION_POSSESSION_UNPROVEN: /),
      });
      expect(w.store.current(ATTACKER).metadata["rotate"]).toBeUndefined();
      expect(w.state.journal(ATTACKER)).toBeUndefined();
      // An emergency also says once that it started failing (the pair it should revoke lives meanwhile).
      expect(w.notifier.sent.map((n) => n.kind)).toEqual(
        start.mode === "emergency" ? ["rotation.retrying", "rotation.failed"] : ["rotation.failed"],
      );
    });
  }

  it("lets a pair that starts working between cycles through (a new app still propagating)", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    w.issuer.failNext(
      "verifyPair",
      new RotatorError("ROTATION_POSSESSION_UNPROVEN", "not yet", { retryable: true }),
    );
    const engine = makeEngine(w);
    expect(await engine.start(PATH, FLAG_START)).toMatchObject({ kind: "failed", willRetry: true });
    passBackoff(w);
    expect(await engine.resume(PATH)).toMatchObject({ kind: "completed" });
    expectRotatedCleanly(w);
  });

  it("records the first path that proves possession as the owner, and refuses a second path even with the pair", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    const out = await makeEngine(w).start(PATH, FLAG_START);
    expect(out).toMatchObject({ kind: "completed" });
    const owners = Object.values(w.state.owners());
    expect(owners).toMatchObject([{ path: PATH, subject: expect.stringContaining(w.target.appId) }]);
    expect(w.audit.types()).toContain("consumer.owned");

    // A second path that holds the current working pair (copied, say) still may not rotate it.
    const now = w.store.current(PATH).data;
    plantTakeover(w);
    w.store.put(ATTACKER, { client_id: now["client_id"] ?? "", api_key: now["api_key"] ?? "" });
    const before = w.issuer.snapshot();
    const second = await makeEngine(w).start(ATTACKER, FLAG_START);
    expect(second).toMatchObject({ kind: "failed", code: "POLICY_CONSUMER_OWNED" });
    expect(second.kind === "failed" && second.message).toContain(`consumer already managed at ${PATH}`);
    expect(second.kind === "failed" && second.message).toContain(`eca-rotator adopt ${ATTACKER}`);
    expect(w.issuer.snapshot()).toEqual(before);
    expect(Object.values(w.state.owners()).map((o) => o.path)).toEqual([PATH]);
  });

  it("keys owners by org, so a second connection to the same org cannot sidestep the owner", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    await makeEngine(w).start(PATH, FLAG_START);
    w.issuer.setOrgId("prod", "00DWt0000000SameOrg");
    w.issuer.setOrgId("prod-again", "00DWt0000000SameOrg");
    // Re-record the owner under the fixed org id by rotating once more.
    w.store.patchByHand(PATH, { rotate: "now" });
    await makeEngine(w).start(PATH, FLAG_START);
    const now = w.store.current(PATH).data;
    w.store.put(
      ATTACKER,
      { client_id: now["client_id"] ?? "", api_key: now["api_key"] ?? "" },
      {
        provider: "salesforce-eca",
        eca_app_id: w.target.appId,
        eca_consumer_id: w.target.consumerId,
        sf_connection: "prod-again",
        rotate: "now",
      },
    );
    const settings: Partial<RotationEngineSettings> = {
      destinations: {
        ...SETTINGS.destinations,
        connections: [
          ...SETTINGS.destinations.connections,
          { name: "prod-again", origin: "https://acme-alias.my.salesforce.com", prefixes: undefined },
        ],
      },
    };
    const out = await makeEngine(w, { settings }).start(ATTACKER, FLAG_START);
    expect(out).toMatchObject({ kind: "failed", code: "POLICY_CONSUMER_OWNED" });
  });

  it("refuses a connection whose prefixes do not cover the path before asking Salesforce anything", async () => {
    const w = makeWorld();
    const settings: Partial<RotationEngineSettings> = {
      destinations: {
        ...SETTINGS.destinations,
        connections: [
          { name: "prod", origin: "https://acme.my.salesforce.com", prefixes: ["api-credentials/team-z"] },
        ],
      },
    };
    const out = await makeEngine(w, { settings }).start(PATH, FLAG_START);
    expect(out).toMatchObject({ kind: "skipped", code: "POLICY_INVALID" });
    expect(out.kind === "skipped" && out.reason).toBe(
      "sf_connection prod may not be used under this path (salesforce.connections.prod.prefixes)",
    );
    expect(w.issuer.calls).toEqual([]);
    expect(w.state.journal(PATH)).toBeUndefined();
  });

  it("stops when the configured connection's origin changed since the rotation pinned it", async () => {
    const w = makeWorld({ metadata: { soak: "30m" } });
    expect(await makeEngine(w).start(PATH, FLAG_START)).toMatchObject({ kind: "waiting", waiting: "soak" });
    expect(w.state.journal(PATH)).toMatchObject({
      destination: "prod",
      destinationOrigin: "https://acme.my.salesforce.com",
    });
    const moved: Partial<RotationEngineSettings> = {
      destinations: {
        ...SETTINGS.destinations,
        connections: [{ name: "prod", origin: "https://elsewhere.my.salesforce.com", prefixes: undefined }],
      },
    };
    w.clock.advance(30 * MINUTE);
    const calls = w.issuer.calls.length;
    const out = await makeEngine(w, { settings: moved }).resume(PATH);
    expect(out).toMatchObject({ kind: "failed", code: "ROTATION_STATE_MISMATCH" });
    expect(w.issuer.promotions).toBe(0);
    // Only the rollback after the refusal reached Salesforce (it deletes the staged set), nothing was promoted.
    expect(w.issuer.calls.slice(calls)).not.toContain("promote");
  });

  it("proves the old key dead by key even when a person cleared previous_* first, and journals the proof", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    // Stop after promotion: retire_after keeps the old pair alive for an hour.
    const first = await makeEngine(w, { settings: { retireAfterMs: 60 * MINUTE } }).start(PATH, FLAG_START);
    expect(first).toMatchObject({ kind: "waiting", waiting: "retire" });
    // A person "tidies up" KV: previous_* emptied while the old pair still logs in at Salesforce.
    const cur = w.store.current(PATH);
    w.store.put(PATH, { ...cur.data, previous_client_id: "", previous_key: "" });
    expect(w.issuer.validPairs().map((p) => p.clientId)).toContain(w.original.clientId);
    w.clock.advance(60 * MINUTE);
    const interceptor = new Interceptor();
    const out = await makeEngine(w, { interceptor, settings: { retireAfterMs: 60 * MINUTE } }).resume(PATH);
    expect(out).toMatchObject({ kind: "completed" });
    // The old pair was revoked and its key proven unknown: an empty previous_* was not taken as proof.
    expect(interceptor.log).toContain("issuer.deleteStaged");
    expect(interceptor.log).toContain("issuer.provePairDead");
    expect(w.issuer.validPairs().map((p) => p.clientId)).not.toContain(w.original.clientId);
    const proofWrite = interceptor.log.indexOf(
      "state.writeJournal",
      interceptor.log.indexOf("issuer.provePairDead"),
    );
    expect(proofWrite).toBeGreaterThan(0);
    const retired = w.audit.events.find((e) => e.type === "rotation.retired");
    expect(retired?.deathProof).toBe("invalid_client_id");
    expectRotatedCleanly(w);
  });

  it("never counts invalid_client (a known key, a wrong secret) as proof that the old pair is dead", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    w.issuer.retiredKeysStayKnown = true;
    const out = await settle(w, () => makeEngine(w));
    const last = out.at(-1);
    expect(last).toMatchObject({ kind: "failed", code: "ROTATION_VERIFY_FAILED", willRetry: false });
    expect(last?.kind === "failed" && last.message).toContain(
      "the old consumer key is still known to Salesforce after it was retired (Salesforce answered invalid_client)",
    );
    // Parked with the new pair published, never closed as "proven dead".
    expect(w.state.journal(PATH)?.step).toBe("failed");
    expect(w.state.journal(PATH)?.oldKeyDeadAt).toBeUndefined();
    expect(w.audit.types()).not.toContain("rotation.completed");
    expect(w.audit.types()).not.toContain("rotation.retired");
    expect(w.notifier.sent.map((n) => n.text).join(" ")).not.toContain("proven dead");
  });
});

describe("adopt", () => {
  const ADOPT = { actor: "cli", trigger: "cli", reason: "moved to the new layout" } as const;

  it("moves a consumer to a path that proves possession, audited with both paths", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    expect(await makeEngine(w).start(PATH, FLAG_START)).toMatchObject({ kind: "completed" });
    const now = w.store.current(PATH).data;
    const NEW_PATH = "api-credentials/team-a/crm-v2";
    w.store.put(
      NEW_PATH,
      { client_id: now["client_id"] ?? "", api_key: now["api_key"] ?? "" },
      {
        provider: "salesforce-eca",
        eca_app_id: w.target.appId,
        eca_consumer_id: w.target.consumerId,
      },
    );
    const before = w.issuer.snapshot();
    const out = await makeEngine(w).adopt(NEW_PATH, ADOPT);
    expect(out).toMatchObject({ kind: "adopted", path: NEW_PATH, previousOwner: PATH });
    expect(Object.values(w.state.owners())).toMatchObject([{ path: NEW_PATH, adoptedFrom: PATH }]);
    // Adopting changes nothing at Salesforce and nothing in KV.
    expect(w.issuer.snapshot()).toEqual(before);
    const event = w.audit.events.at(-1);
    expect(event).toMatchObject({
      type: "consumer.adopted",
      path: NEW_PATH,
      previousOwner: PATH,
      actor: "cli",
      reason: "moved to the new layout",
    });
    expect(w.state.lease(NEW_PATH)).toBeUndefined();
    // Now the old path is the one refused, and adopting again changes nothing.
    w.store.patchByHand(PATH, { rotate: "now" });
    expect(await makeEngine(w).start(PATH, FLAG_START)).toMatchObject({ code: "POLICY_CONSUMER_OWNED" });
    expect(await makeEngine(w).adopt(NEW_PATH, ADOPT)).toMatchObject({ kind: "unchanged" });
  });

  it("refuses an adoption without possession, and never lets the attacker's path take the owner record", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    await makeEngine(w).start(PATH, FLAG_START);
    plantTakeover(w);
    // The attacker needs the current main key in KV; they know it (it is not secret), but not the secret.
    w.store.put(ATTACKER, { client_id: w.store.current(PATH).data["client_id"] ?? "", api_key: "made-up" });
    const out = await makeEngine(w).adopt(ATTACKER, ADOPT);
    expect(out).toMatchObject({ kind: "refused", code: "ROTATION_POSSESSION_UNPROVEN" });
    expect(Object.values(w.state.owners()).map((o) => o.path)).toEqual([PATH]);
    expect(w.audit.types()).not.toContain("consumer.adopted");
  });

  it("refuses while the current owner's rotation is unfinished, and a provider with no consumer", async () => {
    const w = makeWorld({ metadata: { soak: "30m" } });
    expect(await makeEngine(w).start(PATH, FLAG_START)).toMatchObject({ kind: "waiting" });
    // The pair Salesforce still treats as main during the soak.
    w.store.put(
      ATTACKER,
      { client_id: w.original.clientId, api_key: w.original.secret },
      {
        provider: "salesforce-eca",
        eca_app_id: w.target.appId,
        eca_consumer_id: w.target.consumerId,
      },
    );
    const out = await makeEngine(w).adopt(ATTACKER, ADOPT);
    expect(out).toMatchObject({ kind: "refused", code: "ROTATION_STATE_MISMATCH" });
    expect(out.kind === "refused" && out.message).toContain(`unfinished at ${PATH}`);

    w.store.put(
      "api-credentials/team-a/hook",
      { current_secret: "test-secret-canary-hook" },
      { provider: "generated" },
    );
    const generated = await makeEngine(w).adopt("api-credentials/team-a/hook", ADOPT);
    expect(generated).toMatchObject({ kind: "refused", code: "POLICY_INVALID" });
  });
});
