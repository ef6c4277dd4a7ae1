// `eca-rotator resolve` as a real process against the run's bao server and the simulator: an emergency rotation
// killed right after promotion, then parked by the next run --once while the simulator's token endpoint fails,
// is ended by resolve once Salesforce answers again. KV then names Salesforce's main pair, which logs in; the
// rotated record (and with it the old pair) is gone; journal and lease are deleted; chat and audit say so.
import { afterEach, describe, expect, it } from "vitest";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { tokenRequest } from "../simulator/sim-client.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.ts";
import { LEASE_TTL_MS } from "./crash-matrix-kit.ts";
import { E2eWorld } from "./e2e-kit.ts";

const HOOK_KEY = "test-secret-canary-resolve-hook-key-4f1c";

let sim: SalesforceSimulator | undefined;
let hooks: WebhookReceiver | undefined;
afterEach(async () => {
  await sim?.close();
  await hooks?.close();
});

describe("eca-rotator resolve", () => {
  it("ends a rotation parked after promotion: KV names the working main pair, journal and lease go", async () => {
    sim = await startSalesforceSimulator({ rotateSemantics: "immediate" });
    hooks = await startWebhookReceiver();
    const w = await E2eWorld.create(sim, {
      verifyTimeout: "2s",
      leaseTtl: `${LEASE_TTL_MS / 1000}s`,
      // Past promotion an outage is retried for as long as rotation.retry_budget lasts: here one second.
      rotationExtra: ["max_attempts: 1", "scan_interval: 1s", "retry_budget: 1s"],
      extraYaml: [
        "notifications:",
        "  targets:",
        "    ops: { type: webhook, url: { env: RESOLVE_HOOK_URL }, secret: { env: RESOLVE_HOOK_KEY } }",
      ],
    });
    const chatEnv = { RESOLVE_HOOK_URL: `${hooks.url}/ops`, RESOLVE_HOOK_KEY: HOOK_KEY };
    const cred = await w.credential("parked", { rotate: "emergency", rotate_reason: "INC-9 key leaked" });

    // 1. The rotating process dies right after PATCH rotate took effect: Salesforce's main pair is the new one.
    const dead = await w.cli(["run", "--once"], {
      ...chatEnv,
      ECA_ROTATOR_TEST_CRASH_AT: "after:promote#1",
    });
    expect(dead.signal, dead.stdout + dead.stderr).toBe("SIGKILL");
    const diedAt = Date.now();
    const promoted = sim.primaryPair(cred.app.appId, cred.app.consumerId);
    expect(promoted.key).not.toBe(cred.oldPair.key);

    // 2. Salesforce's token endpoint fails; once the dead owner's lease has run out, run --once parks the rotation.
    sim.addFault({ method: "POST", path: "/services/oauth2/token", status5xxRate: 1 });
    await new Promise((r) => setTimeout(r, Math.max(0, diedAt + LEASE_TTL_MS + 200 - Date.now())));
    // The first failed attempt backs off; the next run after the one-second budget parks it.
    const retrying = await w.cli(["run", "--once"], chatEnv);
    expect(retrying.code, retrying.stdout + retrying.stderr).toBe(1);
    expect((await w.journal(cred.path))?.data["step"]).not.toBe("failed");
    await new Promise((r) => setTimeout(r, 1_100));
    const parking = await w.cli(["run", "--once"], chatEnv);
    expect(parking.code, parking.stdout + parking.stderr).toBe(1);
    const parked = await w.journal(cred.path);
    expect(parked?.data["step"]).toBe("failed");
    const rotationId = String(parked?.data["rotation_id"]);
    // Parked, but an outage never uses up an operator's emergency flag: the next cycle would start again. The
    // main pair stays the new one meanwhile; an operator who ends it by hand does so before that cycle.
    expect((await w.entry(cred.path))?.meta["rotate"]).toBe("emergency");
    expect(sim.primaryPair(cred.app.appId, cred.app.consumerId)).toEqual(promoted);
    expect(sim.counters().promotions).toBe(1);

    // 3. Salesforce answers again; an operator resolves the rotation.
    sim.clearFaults();
    const res = await w.cli(["resolve", cred.path, "--reason", "INC-9 token endpoint back"], chatEnv);
    expect(res.code, res.stdout + res.stderr).toBe(0);
    const [shown, done] = res.stdout.trim().split("\n");
    expect(shown).toMatch(
      new RegExp(
        `^journal: rotation ${rotationId} \\(salesforce-eca, emergency, flag by operator-flag, reason: INC-9 key leaked\\), .*step failed at \\w+; last error: SALESFORCE_UNAVAILABLE: `,
      ),
    );
    expect(done).toMatch(
      new RegExp(
        `^resolved: ${cred.path}: Salesforce's main pair is the rotation's new pair \\(key fingerprint [0-9a-f]{16}\\); `,
      ),
    );

    // KV names Salesforce's main pair, and that pair logs in; nothing else does.
    const kv = await w.entry(cred.path);
    expect(kv?.data).toMatchObject({
      client_id: promoted.key,
      api_key: promoted.secret,
      previous_client_id: "",
      previous_key: "",
    });
    expect((await tokenRequest(sim, promoted.key, promoted.secret)).status).toBe(200);
    expect(sim.validPairs(cred.app.appId, cred.app.consumerId)).toEqual([
      { key: promoted.key, role: "primary" },
    ]);
    expect(kv?.meta["rotation_state"]).toBe("failed");
    expect(kv?.meta["last_rotation_error"]).toMatch(/^resolved by cli: INC-9 token endpoint back; /);
    expect(kv?.meta["rotate"]).toBeUndefined();
    expect(await w.journal(cred.path)).toBeUndefined();
    expect(await w.lease(cred.path)).toBeUndefined();

    // Audited with the rotation's id; chat told (signed webhook), with no secret anywhere.
    const events = w.auditEvents().filter((e) => e.path === cred.path);
    expect(events.at(-1)).toMatchObject({
      type: "rotation.resolved",
      rotationId,
      actor: "cli",
      reason: "INC-9 token endpoint back",
    });
    const chat = (await hooks.waitFor(1, 10_000)).filter((r) => r.rawBody.includes("was resolved by cli"));
    expect(chat).toHaveLength(1);
    expect(chat[0]?.rawBody).toContain(cred.path);
    const everything = [...hooks.requests.map((r) => r.rawBody)];
    for (const secret of [promoted.secret, cred.oldPair.secret, sim.adminApp.consumerSecret, HOOK_KEY]) {
      for (const text of everything) expect(text).not.toContain(secret);
    }
    w.expectNoLeak([promoted.secret, cred.oldPair.secret, sim.adminApp.consumerSecret, HOOK_KEY]);

    // Nothing is left to resolve: a second run refuses, exit 1.
    const again = await w.cli(["resolve", cred.path], chatEnv);
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(
      /^refused: .*ROTATION_RESOLVE_REFUSED: there is no rotation journal .*nothing is parked/,
    );
  }, 120_000);
});
