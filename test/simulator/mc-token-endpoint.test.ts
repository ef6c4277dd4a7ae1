// The Marketing Cloud side of the simulator over real HTTP: v2/token, staged/active secrets, the 5-minute rules,
// the 180-day TTL and the 2026-09-30 cut-off for secrets from before the TTL.
import { afterEach, describe, expect, it } from "vitest";
import { FixedClock } from "../../src/core/time.ts";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";

const MIN = 60_000;
const DAY = 24 * 60 * MIN;

let sim: SalesforceSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function token(s: SalesforceSimulator, body: unknown) {
  const res = await fetch(`${s.url}/v2/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const cc = (clientId: string, secret: string) => ({
  grant_type: "client_credentials",
  client_id: clientId,
  client_secret: secret,
});

describe("the Marketing Cloud token endpoint", () => {
  it("issues a bearer token with instance urls for the active secret", async () => {
    sim = await startSalesforceSimulator({ clock: new FixedClock("2026-05-01T00:00:00Z") });
    const pkg = sim.mc.createPackage("crm-sync");
    const r = await token(sim, { ...cc(pkg.clientId, pkg.clientSecret), account_id: pkg.accountId });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ token_type: "Bearer", expires_in: 1079 });
    expect(r.json["access_token"]).toEqual(expect.any(String));
    expect(r.json["rest_instance_url"]).toBe(`${sim.url}/rest/`);
    expect(r.json["soap_instance_url"]).toBe(`${sim.url}/soap/`);
  });

  it("answers a wrong secret and an unknown client id with 401 invalid_client", async () => {
    sim = await startSalesforceSimulator();
    const pkg = sim.mc.createPackage("crm-sync");
    const wrong = await token(sim, cc(pkg.clientId, "test-secret-canary-wrong"));
    expect(wrong.status).toBe(401);
    expect(wrong.json["error"]).toBe("invalid_client");
    expect(JSON.stringify(wrong.json)).not.toContain("test-secret-canary");
    expect((await token(sim, cc("nope", pkg.clientSecret))).status).toBe(401);
  });

  it("refuses other grant types with unsupported_grant_type", async () => {
    sim = await startSalesforceSimulator();
    const pkg = sim.mc.createPackage("crm-sync");
    const r = await token(sim, { ...cc(pkg.clientId, pkg.clientSecret), grant_type: "password" });
    expect(r.status).toBe(400);
    expect(r.json["error"]).toBe("unsupported_grant_type");
  });

  it("accepts a staged secret only after 5 minutes, and both secrets until activation kills the old one", async () => {
    const clock = new FixedClock("2026-05-01T00:00:00Z");
    sim = await startSalesforceSimulator({ clock });
    const pkg = sim.mc.createPackage("crm-sync");
    const staged = sim.mc.stageSecret(pkg.clientId);
    expect((await token(sim, cc(pkg.clientId, staged))).status).toBe(401);
    expect(() => sim?.mc.activateStaged(pkg.clientId)).toThrow(/5 minutes/);
    clock.advance(5 * MIN);
    expect((await token(sim, cc(pkg.clientId, staged))).status).toBe(200);
    expect((await token(sim, cc(pkg.clientId, pkg.clientSecret))).status).toBe(200);
    sim.mc.activateStaged(pkg.clientId);
    expect((await token(sim, cc(pkg.clientId, staged))).status).toBe(200);
    expect((await token(sim, cc(pkg.clientId, pkg.clientSecret))).status).toBe(401);
  });

  it("generates at most one secret per 5 minutes and replaces a staged secret never activated", async () => {
    const clock = new FixedClock("2026-05-01T00:00:00Z");
    sim = await startSalesforceSimulator({ clock });
    const pkg = sim.mc.createPackage("crm-sync");
    const first = sim.mc.stageSecret(pkg.clientId);
    expect(() => sim?.mc.stageSecret(pkg.clientId)).toThrow(/5 minutes/);
    clock.advance(5 * MIN);
    const second = sim.mc.stageSecret(pkg.clientId);
    clock.advance(5 * MIN);
    expect((await token(sim, cc(pkg.clientId, first))).status).toBe(401);
    expect((await token(sim, cc(pkg.clientId, second))).status).toBe(200);
  });

  it("expires a secret 180 days after it was made, and a legacy secret at the 2026-09-30 cut-off", async () => {
    const clock = new FixedClock("2026-05-01T00:00:00Z");
    sim = await startSalesforceSimulator({ clock });
    const fresh = sim.mc.createPackage("fresh");
    const legacy = sim.mc.createPackage("legacy", { legacy: true });
    clock.advance(152 * DAY); // 2026-09-30
    expect((await token(sim, cc(legacy.clientId, legacy.clientSecret))).status).toBe(401);
    expect((await token(sim, cc(fresh.clientId, fresh.clientSecret))).status).toBe(200);
    clock.advance(28 * DAY);
    expect((await token(sim, cc(fresh.clientId, fresh.clientSecret))).status).toBe(401);
    expect(sim.mc.validSecrets(fresh.clientId)).toEqual([]);
  });
});
