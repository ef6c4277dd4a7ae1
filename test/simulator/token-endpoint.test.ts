// The OAuth side of the simulator over real HTTP: client_credentials (form and Basic), jwt-bearer, every
// documented error, userinfo, revoke and introspect.
import { request } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { FixedClock } from "../../src/core/time.ts";
import {
  type SalesforceSimulator,
  type SimulatorOptions,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { adminLogin, api, type HttpResult, login, tokenRequest, V } from "./sim-client.ts";

let sim: SalesforceSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});
async function start(opts: SimulatorOptions = {}): Promise<SalesforceSimulator> {
  sim = await startSalesforceSimulator(opts);
  return sim;
}

async function form(s: SalesforceSimulator, path: string, fields: Record<string, string>, headers = {}) {
  const res = await fetch(`${s.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(fields),
  });
  const text = await res.text();
  return { status: res.status, text, json: text ? JSON.parse(text) : undefined };
}

function unsignedJwt(claims: Record<string, unknown>): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${part({ alg: "RS256" })}.${part(claims)}.c2lnbmF0dXJl`;
}

describe("the token endpoint", () => {
  it("answers a wrong secret for a known key with 400 invalid_client", async () => {
    const s = await start();
    const res = await tokenRequest(s, s.adminApp.consumerKey, "test-secret-canary-wrong");
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ error: "invalid_client", error_description: "invalid client credentials" });
  });

  it("answers an unknown key with 400 invalid_client_id, and a missing one too", async () => {
    const s = await start();
    for (const key of ["3MVG9neverIssued", ""]) {
      const res = await tokenRequest(s, key, "whatever");
      expect(res.status).toBe(400);
      expect(res.json).toEqual({
        error: "invalid_client_id",
        error_description: "client identifier invalid",
      });
    }
  });

  it("accepts HTTP Basic client authentication with only grant_type in the body", async () => {
    const s = await start();
    const basic = (secret: string) =>
      `Basic ${Buffer.from(`${s.adminApp.consumerKey}:${secret}`).toString("base64")}`;
    const ok = await form(
      s,
      "/services/oauth2/token",
      { grant_type: "client_credentials" },
      {
        authorization: basic(s.adminApp.consumerSecret),
      },
    );
    expect(ok.status).toBe(200);
    expect(ok.json.token_type).toBe("Bearer");
    const bad = await form(
      s,
      "/services/oauth2/token",
      { grant_type: "client_credentials" },
      {
        authorization: basic("nope"),
      },
    );
    expect(bad.json.error).toBe("invalid_client");
  });

  it("refuses an unknown grant type and a JSON body with unsupported_grant_type", async () => {
    const s = await start();
    expect((await form(s, "/services/oauth2/token", { grant_type: "password" })).json.error).toBe(
      "unsupported_grant_type",
    );
    const res = await fetch(`${s.url}/services/oauth2/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ grant_type: "client_credentials" }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe("unsupported_grant_type");
  });

  it("refuses client_credentials sent to the generic login host", async () => {
    const s = await start();
    const body = new URLSearchParams({
      grant_type: "client_credentials",
      client_id: s.adminApp.consumerKey,
      client_secret: s.adminApp.consumerSecret,
    }).toString();
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        `${s.url}/services/oauth2/token`,
        {
          method: "POST",
          headers: { host: "login.salesforce.com", "content-type": "application/x-www-form-urlencoded" },
        },
        (r) => {
          let text = "";
          r.on("data", (c: Buffer) => {
            text += c.toString();
          });
          r.on("end", () => resolve({ status: r.statusCode ?? 0, body: text }));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({
      error: "invalid_grant",
      error_description: "request not supported on this domain",
    });
  });

  it("refuses an app without a run-as user with 'no client credentials user enabled'", async () => {
    const s = await start();
    const app = s.createApp("No_Run_As", { clientCredentialsUser: false });
    const res = await tokenRequest(s, app.consumerKey, app.consumerSecret);
    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      error: "invalid_grant",
      error_description: "no client credentials user enabled",
    });
  });

  it("limits logins per user per trailing hour with 'login rate exceeded'", async () => {
    const clock = new FixedClock("2026-03-01T00:00:00Z");
    const s = await start({ clock, loginRatePerHour: 3 });
    for (let i = 0; i < 3; i++) await adminLogin(s);
    const res = await tokenRequest(s, s.adminApp.consumerKey, s.adminApp.consumerSecret);
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ error: "invalid_grant", error_description: "login rate exceeded" });
    clock.advance(60 * 60 * 1000);
    expect((await tokenRequest(s, s.adminApp.consumerKey, s.adminApp.consumerSecret)).status).toBe(200);
  });

  it("grants jwt-bearer on structurally valid claims and names each bad claim", async () => {
    const s = await start();
    const exp = Math.floor(Date.now() / 1000) + 180;
    const good = {
      iss: s.adminApp.consumerKey,
      sub: s.adminUser.username,
      aud: "https://login.salesforce.com",
      exp,
    };
    const jwt = (claims: Record<string, unknown>) =>
      form(s, "/services/oauth2/token", {
        grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion: unsignedJwt(claims),
      });
    const ok = await jwt(good);
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ token_type: "Bearer", instance_url: s.url, scope: "api" });
    expect((await api(s, ok.json.access_token, "GET", `${V}/apps/oauth/usage`)).status).toBe(200);

    expect((await jwt({ ...good, aud: "https://example.com" })).json.error_description).toBe(
      "Audience validation failed",
    );
    expect((await jwt({ ...good, exp: exp - 3600 })).json.error_description).toBe("expired assertion");
    expect((await jwt({ ...good, sub: "nobody@example.com" })).json.error_description).toBe(
      "user hasn't approved this consumer",
    );
    expect((await jwt({ ...good, iss: "3MVG9unknown" })).json.error).toBe("invalid_client_id");
    const malformed = await form(s, "/services/oauth2/token", {
      grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
      assertion: "not-a-jwt",
    });
    expect(malformed.json).toEqual({ error: "invalid_grant", error_description: "invalid assertion" });
  });

  it("puts Sforce-Limit-Info on token responses too", async () => {
    const s = await start({ dailyApiLimit: 500 });
    const res = await tokenRequest(s, s.adminApp.consumerKey, s.adminApp.consumerSecret);
    expect(res.headers.get("sforce-limit-info")).toBe("api-usage=0/500");
  });
});

describe("userinfo, revoke and introspect", () => {
  it("returns the user behind a token and 401 INVALID_SESSION_ID for a bad one", async () => {
    const s = await start();
    const token = await adminLogin(s);
    const me = await api(s, token, "GET", "/services/oauth2/userinfo");
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({ preferred_username: s.adminUser.username, user_id: s.adminUser.userId });
    const bad = await api(s, "00Dbogus!token", "GET", "/services/oauth2/userinfo");
    expect(bad.status).toBe(401);
    expect(bad.json).toEqual([{ message: "Session expired or invalid", errorCode: "INVALID_SESSION_ID" }]);
  });

  it("serves the identity URL from the token response", async () => {
    const s = await start();
    const tok = await tokenRequest(s, s.adminApp.consumerKey, s.adminApp.consumerSecret);
    const res = await api(s, tok.json.access_token, "GET", new URL(tok.json.id).pathname);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id: tok.json.id, username: s.adminUser.username });
  });

  it("revokes a token: 200, then the token is refused, and a second revoke is 400 invalid_token", async () => {
    const s = await start();
    const token = await adminLogin(s);
    const first = await form(s, "/services/oauth2/revoke", { token });
    expect(first.status).toBe(200);
    expect((await api(s, token, "GET", `${V}/apps/oauth/usage`)).status).toBe(401);
    const again = await form(s, "/services/oauth2/revoke", { token });
    expect(again.status).toBe(400);
    expect(again.json.error).toBe("invalid_token");
  });

  it("introspects the caller's own tokens and hides other apps' tokens", async () => {
    const s = await start();
    const token = await adminLogin(s);
    const other = s.createApp("Other_App");
    const otherToken = await login(s, other.consumerKey, other.consumerSecret);
    const auth = { client_id: s.adminApp.consumerKey, client_secret: s.adminApp.consumerSecret };
    const own = await form(s, "/services/oauth2/introspect", {
      token,
      token_type_hint: "access_token",
      ...auth,
    });
    expect(own.status).toBe(200);
    expect(own.json).toMatchObject({
      active: true,
      client_id: s.adminApp.consumerKey,
      token_type: "access_token",
    });
    expect(own.json.exp - own.json.iat).toBe(2 * 60 * 60);
    expect((await form(s, "/services/oauth2/introspect", { token: otherToken, ...auth })).json).toEqual({
      active: false,
    });
    const badClient = await form(s, "/services/oauth2/introspect", {
      token,
      client_id: "x",
      client_secret: "y",
    });
    expect(badClient.status).toBe(401);
  });

  it("keeps tokens issued with a rotated-away pair valid until they expire", async () => {
    const s = await start({ rotateSemantics: "immediate" });
    const app = s.createApp("Keeps_Sessions");
    const oldToken = await login(s, app.consumerKey, app.consumerSecret);
    const admin = await adminLogin(s);
    const staged: HttpResult = await api(
      s,
      admin,
      "POST",
      `${V}/apps/oauth/credentials/${app.appId}/${app.consumerId}/staged`,
      {},
    );
    await api(s, admin, "PATCH", staged.json.stagedCredentials[0].url, { command: "rotate" });
    expect((await tokenRequest(s, app.consumerKey, app.consumerSecret)).status).toBe(400);
    expect((await api(s, oldToken, "GET", "/services/oauth2/userinfo")).status).toBe(200);
  });
});
