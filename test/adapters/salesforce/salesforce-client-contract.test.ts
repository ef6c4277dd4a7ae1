// The client's full rotation flow against the simulator over real HTTP, in both rotate semantics and under
// each fault: token, resolve app, consumers, read key, list staged, create staged, verify the new pair, rotate,
// verify it as the main pair, delete the rotated record, prove the old pair dead.
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { SalesforceClient } from "../../../src/adapters/salesforce/salesforce-client.ts";
import { sameSalesforceId } from "../../../src/adapters/salesforce/salesforce-client.ts";
import { realSleep } from "../../../src/adapters/salesforce/salesforce-http.ts";
import { isRotatorError, type RotatorError } from "../../../src/core/errors.ts";
import { SecretValue } from "../../../src/core/secret-value.ts";
import { FixedClock } from "../../../src/core/time.ts";
import type {
  SalesforceSimulator,
  SimulatedApp,
} from "../../../src/simulator/salesforce/salesforce-simulator.ts";
import { caught, recordingLog, type SimHarness, sharedClock, startHarness } from "./salesforce-test-kit.ts";

type Semantics = "overlap" | "immediate";

interface FlowResult {
  oldKey: string;
  newKey: string;
}

async function runFullFlow(
  client: SalesforceClient,
  sim: SalesforceSimulator,
  app: SimulatedApp,
  semantics: Semantics,
): Promise<FlowResult> {
  const { instanceUrl } = await client.login();
  expect(instanceUrl).toBe(sim.url);

  const appId = await client.resolveAppId(app.developerName);
  expect(sameSalesforceId(appId, app.appId)).toBe(true);
  expect(appId).toHaveLength(15);

  const consumers = await client.listConsumers(appId);
  const consumer = consumers.find((c) => sameSalesforceId(c.id, app.consumerId));
  expect(consumer?.key).toBe(app.consumerKey);
  const consumerId = consumer?.id ?? "";

  const primary = await client.readConsumer(appId, consumerId, "keyandsecret");
  expect(primary.key).toBe(app.consumerKey);
  expect(primary.secret?.reveal()).toBe(app.consumerSecret);
  const oldSecret = primary.secret;
  if (!oldSecret) throw new Error("no secret");

  expect(await client.listStaged(appId, consumerId)).toEqual([]);

  const staged = await client.createStaged(appId, consumerId);
  expect(staged.state).toBe("active");
  expect(staged.key).not.toBe(app.consumerKey);
  expect(sim.validPairs(app.appId, app.consumerId).map((p) => p.role)).toEqual(["primary", "staged"]);

  const fresh = await client.verifyPair(staged.key, staged.secret, { timeoutMs: 10_000 });
  expect(fresh.ok).toBe(true);

  const rotated = await client.rotateStaged(appId, consumerId, staged.id);
  expect(rotated.state).toBe("rotated");
  expect((await client.readConsumer(appId, consumerId, "key")).key).toBe(staged.key);

  const asMain = await client.verifyPair(staged.key, staged.secret, { timeoutMs: 10_000 });
  expect(asMain.ok).toBe(true);

  const oldBeforeDelete = await client.provePairDead(app.consumerKey, oldSecret);
  expect(oldBeforeDelete.dead).toBe(semantics === "immediate");

  const records = await client.listStaged(appId, consumerId);
  expect(records.map((r) => r.state)).toEqual(["rotated"]);
  const record = records[0];
  if (!record) throw new Error("no rotated record");
  expect(await client.deleteStaged(appId, consumerId, record.id)).toEqual({ deleted: true });
  expect(await client.deleteStaged(appId, consumerId, record.id)).toEqual({ deleted: false });

  expect(await client.provePairDead(app.consumerKey, oldSecret)).toEqual({
    dead: true,
    reason: "invalid_client_id",
  });
  expect(sim.validPairs(app.appId, app.consumerId)).toEqual([{ key: staged.key, role: "primary" }]);
  expect(sim.counters()).toMatchObject({ promotions: 1, stagedPosts: 1 });
  return { oldKey: app.consumerKey, newKey: staged.key };
}

let h: SimHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe.each<Semantics>(["overlap", "immediate"])("SalesforceClient full flow (%s)", (semantics) => {
  it("rotates a consumer's pair end to end and proves the old pair dead", async () => {
    h = await startHarness({ rotateSemantics: semantics });
    const app = h.sim.createApp("Billing_Sync");
    const client = h.client();
    await runFullFlow(client, h.sim, app, semantics);
    expect(client.apiUsage).toEqual({ used: expect.any(Number), max: 100_000 });
    expect(client.apiUsage?.used).toBeGreaterThan(5);
    // One login for the whole flow: the token is cached.
    expect(h.rec.calls.filter((c) => c === "POST /services/oauth2/token").length).toBe(1 + 2 + 2);
    // A proof's token is dropped, not revoked: a revoke would be one more call per proof and guard nothing.
    expect(h.rec.calls.filter((c) => c === "POST /services/oauth2/revoke")).toEqual([]);
  });

  it("completes under 120 ms of latency on every call", async () => {
    h = await startHarness({ rotateSemantics: semantics });
    h.sim.addFault({ latencyMs: 120 });
    await runFullFlow(h.client(), h.sim, h.sim.createApp("Slow_App"), semantics);
  });

  it("completes when a quarter of the reads answer 503, by retrying them", async () => {
    h = await startHarness({ rotateSemantics: semantics });
    h.sim.addFault({ method: "GET", status5xxRate: 0.25 });
    await runFullFlow(h.client({ maxRetries: 10 }), h.sim, h.sim.createApp("Flaky_App"), semantics);
  });

  it("completes when a 200 POST status and staged-url quirk are switched on", async () => {
    h = await startHarness({ rotateSemantics: semantics, postStatus: 200, stagedUrl15: true });
    await runFullFlow(h.client(), h.sim, h.sim.createApp("Quirky_App"), semantics);
  });
});

describe("SalesforceClient retries", () => {
  it("retries a read that answers 503 twice and succeeds on the third try", async () => {
    h = await startHarness();
    h.sim.addFault({ method: "GET", path: "/apps/oauth/usage", status5xxRate: 1, times: 2 });
    const apps = await h.client().listApps();
    expect(apps.length).toBeGreaterThan(0);
    // Page 0 three times, then the empty page 1 once.
    expect(h.rec.calls.filter((c) => c.endsWith("/apps/oauth/usage"))).toHaveLength(4);
  });

  it("gives up on a read after a bounded number of tries with SALESFORCE_UNAVAILABLE", async () => {
    h = await startHarness();
    h.sim.addFault({ method: "GET", path: "/apps/oauth/usage", status5xxRate: 1 });
    const err = (await caught(h.client({ maxRetries: 2 }).listApps())) as RotatorError;
    expect(err.code).toBe("SALESFORCE_UNAVAILABLE");
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/^list apps: GET \/services\/data\/v65\.0\/apps\/oauth\/usage → HTTP 503/);
    expect(h.rec.calls.filter((c) => c.endsWith("/apps/oauth/usage"))).toHaveLength(3);
  });

  it("times out a read that answers too late and gets it on the retry", async () => {
    h = await startHarness();
    const client = h.client({ timeoutMs: 400 });
    await client.login();
    h.sim.addFault({ method: "GET", path: "/apps/oauth/usage", latencyMs: 1_500, times: 1 });
    await client.listApps();
    // Page 0 twice (timed out, then answered), then the empty page 1.
    expect(h.rec.calls.filter((c) => c.endsWith("/apps/oauth/usage"))).toHaveLength(3);
  });

  it("never retries POST staged on a 503 and says the outcome is uncertain", async () => {
    h = await startHarness();
    const app = h.sim.createApp("Post_503");
    h.sim.addFault({ method: "POST", path: "/staged", status5xxRate: 1, times: 1 });
    const client = h.client();
    const err = (await caught(client.createStaged(app.appId, app.consumerId))) as RotatorError;
    expect(err.code).toBe("SALESFORCE_UNAVAILABLE");
    expect(err.retryable).toBe(false);
    expect(err.context["uncertain"]).toBe(true);
    expect(h.rec.calls.filter((c) => c.startsWith("POST") && c.endsWith("/staged"))).toHaveLength(1);
  });

  it("commit-then-drop on POST staged: an uncertain error, no retry, and the set is there when re-read", async () => {
    h = await startHarness();
    const app = h.sim.createApp("Post_Drop");
    h.sim.addFault({ method: "POST", path: "/staged", commitThenDrop: true, times: 1 });
    const client = h.client();
    const err = (await caught(client.createStaged(app.appId, app.consumerId))) as RotatorError;
    expect(err.code).toBe("SALESFORCE_UNAVAILABLE");
    expect(err.context).toMatchObject({ uncertain: true, step: "create staged", method: "POST" });
    expect(err.retryable).toBe(false);
    expect(h.rec.calls.filter((c) => c.startsWith("POST") && c.endsWith("/staged"))).toHaveLength(1);
    expect(h.sim.counters().stagedPosts).toBe(1);
    const staged = await client.listStaged(app.appId15, app.consumerId);
    expect(staged.map((s) => s.state)).toEqual(["active"]);
    expect(staged[0]?.secret?.reveal()).toMatch(/^[0-9A-F]{64}$/);
  });

  it("commit-then-drop on PATCH rotate: an uncertain error, no retry, and the promotion shows when re-read", async () => {
    h = await startHarness();
    const app = h.sim.createApp("Patch_Drop");
    const client = h.client();
    const staged = await client.createStaged(app.appId, app.consumerId);
    h.sim.addFault({ method: "PATCH", commitThenDrop: true, times: 1 });
    const err = (await caught(client.rotateStaged(app.appId, app.consumerId, staged.id))) as RotatorError;
    expect(err.context["uncertain"]).toBe(true);
    expect(h.rec.calls.filter((c) => c.startsWith("PATCH"))).toHaveLength(1);
    expect((await client.readConsumer(app.appId, app.consumerId, "key")).key).toBe(staged.key);
    expect(h.sim.counters().promotions).toBe(1);
  });

  it("answers a second POST staged with SALESFORCE_STAGED_CONFLICT while a set is active", async () => {
    h = await startHarness();
    const app = h.sim.createApp("Twice");
    const client = h.client();
    await client.createStaged(app.appId, app.consumerId);
    const err = (await caught(client.createStaged(app.appId, app.consumerId))) as RotatorError;
    expect(err.code).toBe("SALESFORCE_STAGED_CONFLICT");
    expect(err.message).toMatch(/HTTP 409 INVALID_OPERATION: a staged credential set already exists/);
  });
});

describe("SalesforceClient verifyPair", () => {
  it("proves a pair with one token request and nothing else: no API call with the token, no revoke", async () => {
    h = await startHarness();
    const app = h.sim.createApp("Token_Only");
    const client = h.client();
    await client.login();
    h.rec.calls.length = 0;
    const check = await client.verifyPair(app.consumerKey, SecretValue.of(app.consumerSecret), {
      timeoutMs: 10_000,
    });
    expect(check).toMatchObject({ ok: true, attempts: 1 });
    expect(h.rec.calls).toEqual(["POST /services/oauth2/token"]);
  });

  it("polls through an activation delay and reports how long the pair took to work", async () => {
    const shared = sharedClock();
    h = await startHarness({ clock: shared.clock, activationDelayMs: 90_000 });
    const app = h.sim.createApp("Delayed");
    const client = h.client({ sleep: shared.sleep, random: () => 0.5 });
    const staged = await client.createStaged(app.appId, app.consumerId);
    const check = await client.verifyPair(staged.key, staged.secret, { timeoutMs: 10 * 60_000 });
    expect(check.ok).toBe(true);
    if (!check.ok) return;
    expect(check.elapsedMs).toBeGreaterThanOrEqual(90_000);
    expect(check.attempts).toBeGreaterThan(3);
    // Exponential: each pause at least as long as the one before (random pinned), capped at 30 s.
    for (let i = 1; i < shared.slept.length; i++) {
      expect(shared.slept[i]).toBeGreaterThanOrEqual(shared.slept[i - 1] ?? 0);
    }
    expect(Math.max(...shared.slept)).toBeLessThanOrEqual(30_000);
  });

  it("polls through a real one-second activation delay", async () => {
    h = await startHarness({ activationDelayMs: 1_000 });
    const app = h.sim.createApp("Delayed_Real");
    const client = h.client({ sleep: realSleep });
    const staged = await client.createStaged(app.appId, app.consumerId);
    const check = await client.verifyPair(staged.key, staged.secret, {
      timeoutMs: 10_000,
      initialDelayMs: 200,
    });
    expect(check).toMatchObject({ ok: true });
    expect(check.elapsedMs).toBeGreaterThanOrEqual(900);
    expect(check.attempts).toBeGreaterThan(1);
  });

  it("gives up at the deadline with invalid_client for a wrong secret", async () => {
    const shared = sharedClock();
    h = await startHarness({ clock: shared.clock });
    const app = h.sim.createApp("Wrong_Secret");
    const check = await h
      .client({ sleep: shared.sleep })
      .verifyPair(app.consumerKey, SecretValue.of("0".repeat(64)), { timeoutMs: 120_000 });
    expect(check).toMatchObject({ ok: false, code: "SALESFORCE_AUTH_FAILED", reason: "invalid_client" });
    expect(check.elapsedMs).toBeGreaterThanOrEqual(120_000);
    expect(check.elapsedMs).toBeLessThan(125_000);
    expect(check.attempts).toBeGreaterThan(2);
  });

  it("stops at once when the app has no Run As user", async () => {
    h = await startHarness();
    const app = h.sim.createApp("No_Run_As", { clientCredentialsUser: false });
    const check = await h
      .client()
      .verifyPair(app.consumerKey, SecretValue.of(app.consumerSecret), { timeoutMs: 60_000 });
    expect(check).toMatchObject({
      ok: false,
      code: "SALESFORCE_AUTH_FAILED",
      reason: "no_run_as_user",
      attempts: 1,
    });
  });
});

describe("SalesforceClient session, limits and settings", () => {
  it("gets a new token once when the session expired and retries the call", async () => {
    const shared = sharedClock();
    h = await startHarness({ clock: shared.clock, sessionTimeoutMs: 60_000 });
    const log = recordingLog();
    const client = h.client({ log });
    await client.listApps();
    shared.clock.advance(61_000);
    await client.listApps();
    expect(h.rec.calls.filter((c) => c.endsWith("/oauth2/token"))).toHaveLength(2);
    expect(log.lines.map((l) => l.msg)).toContain("salesforce session refused; logging in again");
  });

  it("re-authenticates only once: a session refused again is SALESFORCE_SESSION_EXPIRED", async () => {
    // A clock that jumps a minute on every reading: each new session is already too old when it is used.
    const base = new FixedClock("2026-03-01T09:00:00Z");
    const jumping = {
      now: () => {
        base.advance(60_000);
        return base.now();
      },
    };
    h = await startHarness({ clock: jumping, sessionTimeoutMs: 1_000 });
    const err = (await caught(h.client().listApps())) as RotatorError;
    expect(err.code).toBe("SALESFORCE_SESSION_EXPIRED");
    expect(err.context["status"]).toBe(401);
    expect(h.rec.calls.filter((c) => c.endsWith("/oauth2/token"))).toHaveLength(2);
    expect(h.rec.calls.filter((c) => c.endsWith("/apps/oauth/usage"))).toHaveLength(2);
  });

  it("maps the daily API limit to SALESFORCE_RATE_LIMITED without retrying, and exposes api usage", async () => {
    h = await startHarness({ dailyApiLimit: 4 });
    const client = h.client();
    // Two calls each: the page of apps and the empty page after it.
    for (let i = 0; i < 2; i++) await client.listApps();
    expect(client.apiUsage).toEqual({ used: 4, max: 4 });
    const err = (await caught(client.listApps())) as RotatorError;
    expect(err.code).toBe("SALESFORCE_RATE_LIMITED");
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/HTTP 403 REQUEST_LIMIT_EXCEEDED/);
    expect(h.rec.calls.filter((c) => c.endsWith("/apps/oauth/usage"))).toHaveLength(5);
  });

  it("maps 'login rate exceeded' to SALESFORCE_RATE_LIMITED", async () => {
    h = await startHarness({ loginRatePerHour: 0 });
    const err = (await caught(h.client().login())) as RotatorError;
    expect(err.code).toBe("SALESFORCE_RATE_LIMITED");
    expect(err.context["reason"]).toBe("login_rate_exceeded");
  });

  it("maps the org setting being off to SALESFORCE_NOT_ENABLED for secrets and staged calls only", async () => {
    h = await startHarness({ restSecretsEnabled: false });
    const app = h.sim.createApp("Setting_Off");
    const client = h.client();
    expect((await client.readConsumer(app.appId, app.consumerId, "key")).key).toBe(app.consumerKey);
    for (const call of [
      () => client.readConsumer(app.appId, app.consumerId, "keyandsecret"),
      () => client.listStaged(app.appId, app.consumerId),
      () => client.createStaged(app.appId, app.consumerId),
    ]) {
      const err = (await caught(call)) as RotatorError;
      expect(err.code).toBe("SALESFORCE_NOT_ENABLED");
      expect(err.message).toMatch(/HTTP 403 FUNCTIONALITY_NOT_ENABLED/);
    }
  });

  it("maps a Run As user without the ECA permissions to SALESFORCE_NOT_ENABLED", async () => {
    h = await startHarness();
    const app = h.sim.createApp("Plain_Integration");
    const client = h.client({ clientId: app.consumerKey, clientSecret: SecretValue.of(app.consumerSecret) });
    const err = (await caught(client.listApps())) as RotatorError;
    expect(err.code).toBe("SALESFORCE_NOT_ENABLED");
    expect(err.context["errorCode"]).toBe("INSUFFICIENT_ACCESS");
  });

  it("refuses staged calls on api_version v64.0 before sending anything, and still lists apps", async () => {
    h = await startHarness();
    const app = h.sim.createApp("Old_Version");
    const client = h.client({
      connection: {
        myDomainUrl: h.sim.url,
        apiVersion: "v64.0",
        auth: "client_credentials",
        jwtUsername: undefined,
        jwtPrivateKeyFile: undefined,
      },
    });
    for (const call of [
      () => client.listStaged(app.appId, app.consumerId),
      () => client.getStaged(app.appId, app.consumerId, app.appId),
      () => client.createStaged(app.appId, app.consumerId),
      () => client.deleteStaged(app.appId, app.consumerId, app.appId),
      () => client.rotateStaged(app.appId, app.consumerId, app.appId),
    ]) {
      const err = (await caught(call)) as RotatorError;
      expect(isRotatorError(err, "SALESFORCE_NOT_ENABLED")).toBe(true);
      expect(err.message).toMatch(/need Salesforce api_version v65\.0 or later \(configured v64\.0\)/);
    }
    expect(h.rec.calls).toEqual([]);
    expect((await client.listApps()).some((a) => a.developerName === "Old_Version")).toBe(true);
  });

  it("answers SALESFORCE_NOT_FOUND for an unknown developer name, app and staged id", async () => {
    h = await startHarness();
    const app = h.sim.createApp("Known");
    const client = h.client();
    expect(isRotatorError(await caught(client.resolveAppId("Unknown_App")), "SALESFORCE_NOT_FOUND")).toBe(
      true,
    );
    const other = "0xIWt0000009zzz";
    expect(isRotatorError(await caught(client.listConsumers(other)), "SALESFORCE_NOT_FOUND")).toBe(true);
    const stagedId = "0ugWt00000000w5";
    expect(
      isRotatorError(
        await caught(client.getStaged(app.appId, app.consumerId, stagedId)),
        "SALESFORCE_NOT_FOUND",
      ),
    ).toBe(true);
  });

  it("follows nextPageUrl across pages until the empty page", async () => {
    h = await startHarness();
    for (let i = 0; i < 230; i++) h.sim.createApp(`Paged_App_${i}`);
    const client = h.client();
    const apps = await client.listApps();
    expect(apps).toHaveLength(231);
    expect(new Set(apps.map((a) => a.appId)).size).toBe(231);
    expect(h.rec.calls.filter((c) => c.endsWith("/apps/oauth/usage"))).toHaveLength(4);
    expect(sameSalesforceId(await client.resolveAppId("paged_app_229"), apps[230]?.appId ?? "")).toBe(true);
  });
});

describe("SalesforceClient JWT bearer login", () => {
  it("logs in with an RS256 assertion from a private key file and runs the flow", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "eca-sf-jwt-"));
    try {
      const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      const keyFile = path.join(dir, "admin.key");
      await writeFile(keyFile, privateKey.export({ type: "pkcs1", format: "pem" }));
      h = await startHarness({ rotateSemantics: "immediate" });
      const connection = {
        myDomainUrl: h.sim.url,
        apiVersion: "v66.0",
        auth: "jwt_bearer" as const,
        jwtUsername: h.sim.adminUser.username,
        jwtPrivateKeyFile: keyFile,
      };
      const client = h.client({ connection, clientSecret: undefined });
      await runFullFlow(client, h.sim, h.sim.createApp("Jwt_Flow"), "immediate");

      const stranger = h.client({ connection: { ...connection, jwtUsername: "nobody@example.com" } });
      const err = (await caught(stranger.login())) as RotatorError;
      expect(err.code).toBe("SALESFORCE_AUTH_FAILED");
      expect(err.context["reason"]).toBe("invalid_grant");
      expect(err.context["step"]).toBe("login (jwt bearer)");

      const wrongAudience = h.client({ connection, jwtAudience: "https://elsewhere.example" });
      expect(isRotatorError(await caught(wrongAudience.login()), "SALESFORCE_AUTH_FAILED")).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses a jwt_bearer connection without user name or key file as CONFIG_INVALID", async () => {
    h = await startHarness();
    const make = () =>
      h?.client({
        connection: {
          myDomainUrl: "https://acme.my.salesforce.com",
          apiVersion: "v65.0",
          auth: "jwt_bearer",
          jwtUsername: undefined,
          jwtPrivateKeyFile: undefined,
        },
      });
    expect(make).toThrow(/jwt_bearer login needs jwt_username and jwt_private_key_file/);
  });
});
