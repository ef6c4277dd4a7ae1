// Every switch for an unknown, the version gates, expiry, limits, sessions and ids.
import { afterEach, describe, expect, it } from "vitest";
import { FixedClock } from "../../src/core/time.ts";
import {
  type SalesforceSimulator,
  type SimulatedApp,
  type SimulatorOptions,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { adminLogin, api, login, tokenRequest, V } from "./sim-client.ts";

const DAY = 24 * 60 * 60 * 1000;
let sim: SalesforceSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function setup(opts: SimulatorOptions = {}) {
  sim = await startSalesforceSimulator(opts);
  const s = sim;
  const app = s.createApp("Target_App");
  const token = await adminLogin(s);
  const consumerUrl = `${V}/apps/oauth/credentials/${app.appId}/${app.consumerId}`;
  const stagedUrl = `${consumerUrl}/staged`;
  return { s, app, token, consumerUrl, stagedUrl };
}

const only = (x: { json: { stagedCredentials: unknown[] } }) =>
  x.json.stagedCredentials[0] as Record<string, string>;

describe("staged POST while an active set exists", () => {
  it("answers 409 INVALID_OPERATION by default and leaves the active set alone", async () => {
    const { s, app, token, stagedUrl } = await setup();
    const first = only(await api(s, token, "POST", stagedUrl, {}));
    const second = await api(s, token, "POST", stagedUrl, {});
    expect(second.status).toBe(409);
    expect(second.json).toEqual([
      {
        message: expect.stringContaining("must be deleted before new credentials can be staged"),
        errorCode: "INVALID_OPERATION",
      },
    ]);
    expect(only(await api(s, token, "GET", stagedUrl))["id"]).toBe(first["id"]);
    expect(s.validPairs(app.appId, app.consumerId).map((p) => p.role)).toEqual(["primary", "staged"]);
    expect(s.counters().stagedPosts).toBe(1);
  });

  it("replaces the active set when stagedPostWhenActive is replace, killing its pair", async () => {
    const { s, token, stagedUrl } = await setup({ stagedPostWhenActive: "replace" });
    const first = only(await api(s, token, "POST", stagedUrl, {}));
    const second = await api(s, token, "POST", stagedUrl, {});
    expect(second.status).toBe(201);
    expect(only(second)["id"]).not.toBe(first["id"]);
    expect((await tokenRequest(s, first["key"] ?? "", first["secret"] ?? "")).json.error).toBe(
      "invalid_client_id",
    );
  });

  it("deletes a rotated record before staging anew, which revokes the former pair it holds", async () => {
    const { s, app, token, stagedUrl } = await setup({ rotateSemantics: "overlap" });
    const staged = only(await api(s, token, "POST", stagedUrl));
    await api(s, token, "PATCH", staged["url"] ?? "", { command: "rotate" });
    expect((await tokenRequest(s, app.consumerKey, app.consumerSecret)).status).toBe(200);
    const next = await api(s, token, "POST", stagedUrl, "junk that is not JSON");
    expect(next.status).toBe(201);
    expect(only(next)["state"]).toBe("active");
    expect((await tokenRequest(s, app.consumerKey, app.consumerSecret)).json.error).toBe("invalid_client_id");
  });
});

describe("status and shape switches", () => {
  it("answers staged POST with 200 when postStatus is 200, switchable at run time", async () => {
    const { s, token, stagedUrl } = await setup({ postStatus: 200 });
    const first = await api(s, token, "POST", stagedUrl, {});
    expect(first.status).toBe(200);
    await api(s, token, "DELETE", only(first)["url"] ?? "");
    s.setOptions({ postStatus: 201 });
    expect((await api(s, token, "POST", stagedUrl, {})).status).toBe(201);
  });

  it("reproduces the seed's 15-char staged url in the POST answer when stagedUrl15 is on", async () => {
    const { s, token, stagedUrl } = await setup({ stagedUrl15: true });
    const staged = only(await api(s, token, "POST", stagedUrl, {}));
    expect(staged["url"]).toBe(`${stagedUrl}/${staged["id"]?.slice(0, 15)}`);
    expect((await api(s, token, "GET", staged["url"] ?? "")).json.url).toBe(`${stagedUrl}/${staged["id"]}`);
  });

  it("keeps the staged id through PATCH rotate, or gives the rotated record a new one when rotatedRecordNewId is on", async () => {
    const { s, token, stagedUrl } = await setup();
    const kept = only(await api(s, token, "POST", stagedUrl, {}));
    const rotated = await api(s, token, "PATCH", kept["url"] ?? "", { command: "rotate" });
    expect(rotated.json).toMatchObject({ id: kept["id"], state: "rotated" });
    s.setOptions({ rotatedRecordNewId: true });
    const next = only(await api(s, token, "POST", stagedUrl, {}));
    const renamed = (await api(s, token, "PATCH", next["url"] ?? "", { command: "rotate" })).json as Record<
      string,
      string
    >;
    expect(renamed["state"]).toBe("rotated");
    expect(renamed["id"]).not.toBe(next["id"]);
    expect((await api(s, token, "DELETE", next["url"] ?? "")).status).toBe(404);
    expect(only(await api(s, token, "GET", stagedUrl))["id"]).toBe(renamed["id"]);
  });

  it("rejects invalid switch values by naming the key", async () => {
    const { s } = await setup();
    expect(() => s.setOptions({ postStatus: 202 as 201 })).toThrow(/postStatus/);
    await expect(startSalesforceSimulator({ rotateSemantics: "later" as "overlap" })).rejects.toThrow(
      /rotateSemantics/,
    );
  });
});

describe("PATCH rotate", () => {
  it("answers any command but rotate with 400 INVALID_INPUT and bad JSON with JSON_PARSER_ERROR", async () => {
    const { s, token, stagedUrl } = await setup();
    const staged = only(await api(s, token, "POST", stagedUrl, {}));
    const url = staged["url"] ?? "";
    for (const body of [{ command: "promote" }, {}, [1]]) {
      const res = await api(s, token, "PATCH", url, body);
      expect(res.status).toBe(400);
      expect(res.json[0].errorCode).toBe("INVALID_INPUT");
    }
    expect((await api(s, token, "PATCH", url, "{not json")).json[0].errorCode).toBe("JSON_PARSER_ERROR");
    expect(s.counters().promotions).toBe(0);
  });

  it("refuses to rotate a record that is already rotated with 409", async () => {
    const { s, token, stagedUrl } = await setup();
    const url = only(await api(s, token, "POST", stagedUrl, {}))["url"] ?? "";
    expect((await api(s, token, "PATCH", url, { command: "rotate" })).status).toBe(200);
    const again = await api(s, token, "PATCH", url, { command: "rotate" });
    expect(again.status).toBe(409);
    expect(again.json[0].errorCode).toBe("INVALID_OPERATION");
    expect(s.counters().promotions).toBe(1);
  });
});

describe("activation delay", () => {
  it("refuses new pairs with invalid_client_id until they are old enough; the admin app is exempt", async () => {
    const clock = new FixedClock("2026-03-01T00:00:00Z");
    const { s, app, token, stagedUrl } = await setup({ clock, activationDelayMs: 60_000 });
    expect((await tokenRequest(s, app.consumerKey, app.consumerSecret)).json.error).toBe("invalid_client_id");
    const staged = only(await api(s, token, "POST", stagedUrl, {}));
    expect((await tokenRequest(s, staged["key"] ?? "", staged["secret"] ?? "")).json.error).toBe(
      "invalid_client_id",
    );
    expect(s.validPairs(app.appId, app.consumerId)).toEqual([]);
    clock.advance(60_000);
    expect((await tokenRequest(s, staged["key"] ?? "", staged["secret"] ?? "")).status).toBe(200);
    expect(s.validPairs(app.appId, app.consumerId).map((p) => p.role)).toEqual(["primary", "staged"]);
  });
});

describe("the org setting for REST access to consumer secrets", () => {
  it("when off: keys stay readable, ?part=secret and every staged call are 403", async () => {
    const { s, token, consumerUrl, stagedUrl } = await setup({ restSecretsEnabled: false });
    const keyOnly = await api(s, token, "GET", `${consumerUrl}?part=key`);
    expect(keyOnly.status).toBe(200);
    expect(keyOnly.json.secret).toBeUndefined();
    expect((await api(s, token, "GET", consumerUrl)).status).toBe(200);
    for (const [method, path] of [
      ["GET", `${consumerUrl}?part=secret`],
      ["GET", `${consumerUrl}?part=keyandsecret`],
      ["GET", stagedUrl],
      ["POST", stagedUrl],
    ] as const) {
      const res = await api(s, token, method, path);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.json).toEqual([
        { message: expect.stringContaining("not currently enabled"), errorCode: "FUNCTIONALITY_NOT_ENABLED" },
      ]);
    }
    s.setOptions({ notEnabledErrorCode: "API_DISABLED_FOR_ORG" });
    expect((await api(s, token, "GET", stagedUrl)).json[0].errorCode).toBe("API_DISABLED_FOR_ORG");
    s.setOptions({ restSecretsEnabled: true });
    expect((await api(s, token, "GET", stagedUrl)).status).toBe(200);
  });

  it("answers ?part=secret with the secret and no key once on", async () => {
    const { s, app, token, consumerUrl } = await setup();
    const res = await api(s, token, "GET", `${consumerUrl}?part=secret`);
    expect(Object.keys(res.json)).toEqual(["id", "name", "secret", "stagedCredentialsUrl", "url"]);
    expect(res.json.secret).toBe(app.consumerSecret);
    expect((await api(s, token, "GET", `${consumerUrl}?part=everything`)).json[0].errorCode).toBe(
      "INVALID_INPUT",
    );
  });

  it("refuses a caller without the ECA permissions with 403 INSUFFICIENT_ACCESS", async () => {
    const { s, app } = await setup();
    const plain = await login(s, app.consumerKey, app.consumerSecret);
    const res = await api(s, plain, "GET", `${V}/apps/oauth/usage`);
    expect(res.status).toBe(403);
    expect(res.json[0].errorCode).toBe("INSUFFICIENT_ACCESS");
  });
});

describe("API versions", () => {
  it("gates usage at 59, credentials at 60 and staged at 65; unknown versions are 404", async () => {
    const { s, app, token } = await setup();
    const path = (v: number, rest: string) => `/services/data/v${v}.0/apps/oauth/${rest}`;
    const creds = `credentials/${app.appId}`;
    const consumer = `${creds}/${app.consumerId}`;
    const cases: Array<[number, string, number]> = [
      [58, "usage", 404],
      [59, "usage", 200],
      [59, creds, 404],
      [60, creds, 200],
      [60, consumer, 200],
      [64, `${consumer}/staged`, 404],
      [65, `${consumer}/staged`, 200],
      [68, "usage", 404],
    ];
    for (const [v, rest, status] of cases) {
      const res = await api(s, token, "GET", path(v, rest));
      expect(res.status, `v${v} ${rest}`).toBe(status);
      if (status === 404) {
        expect(res.json).toEqual([
          { message: "The requested resource does not exist", errorCode: "NOT_FOUND" },
        ]);
      }
    }
    const v60 = await api(s, token, "GET", path(60, creds));
    expect(v60.json.consumers[0].stagedCredentialsUrl).toBeUndefined();
    expect(v60.json.consumers[0].url).toContain("/v60.0/");
  });
});

describe("the 30-day life of a staged set (injected clock, evaluated lazily)", () => {
  it("turns an active set expired after 30 days, refusing its pair, and lets a new POST replace it", async () => {
    const clock = new FixedClock("2026-03-01T10:00:00.400Z");
    const { s, token, stagedUrl } = await setup({ clock, sessionTimeoutMs: 40 * DAY });
    const staged = only(await api(s, token, "POST", stagedUrl, {}));
    expect(staged["createdDate"]).toBe("2026-03-01T10:00:00.000Z");
    expect(staged["expirationDate"]).toBe("2026-03-31T10:00:00.000Z");
    clock.advance(30 * DAY - 1000);
    expect(only(await api(s, token, "GET", stagedUrl))["state"]).toBe("active");
    clock.advance(1000);
    expect(only(await api(s, token, "GET", stagedUrl))["state"]).toBe("expired");
    expect((await tokenRequest(s, staged["key"] ?? "", staged["secret"] ?? "")).json.error).toBe(
      "invalid_client_id",
    );
    const fresh = await api(s, token, "POST", stagedUrl, {});
    expect(fresh.status).toBe(201);
    expect(only(fresh)["state"]).toBe("active");
  });

  it("removes a rotated record (and the former pair) 30 days after promotion in overlap mode", async () => {
    const clock = new FixedClock("2026-03-01T10:00:00Z");
    const { s, app, token, stagedUrl } = await setup({ clock, sessionTimeoutMs: 60 * DAY });
    const staged = only(await api(s, token, "POST", stagedUrl, {}));
    clock.advance(10 * DAY);
    const rotated = await api(s, token, "PATCH", staged["url"] ?? "", { command: "rotate" });
    expect(rotated.json.expirationDate).toBe("2026-04-10T10:00:00.000Z");
    clock.advance(30 * DAY - 1000);
    expect((await tokenRequest(s, app.consumerKey, app.consumerSecret)).status).toBe(200);
    clock.advance(1000);
    expect((await api(s, token, "GET", stagedUrl)).json.stagedCredentials).toEqual([]);
    expect((await tokenRequest(s, app.consumerKey, app.consumerSecret)).json.error).toBe("invalid_client_id");
  });
});

describe("limits and sessions", () => {
  it("counts REST calls in Sforce-Limit-Info and answers 403 REQUEST_LIMIT_EXCEEDED past the daily max", async () => {
    const clock = new FixedClock("2026-03-01T00:00:00Z");
    const { s, token } = await setup({ clock, dailyApiLimit: 3, sessionTimeoutMs: 2 * DAY });
    const seen: Array<string | null> = [];
    for (let i = 0; i < 3; i++)
      seen.push((await api(s, token, "GET", `${V}/limits`)).headers.get("sforce-limit-info"));
    expect(seen).toEqual(["api-usage=1/3", "api-usage=2/3", "api-usage=3/3"]);
    const over = await api(s, token, "GET", `${V}/apps/oauth/usage`);
    expect(over.status).toBe(403);
    expect(over.json).toEqual([
      { message: "TotalRequests Limit exceeded.", errorCode: "REQUEST_LIMIT_EXCEEDED" },
    ]);
    expect(over.headers.get("sforce-limit-info")).toBe("api-usage=3/3");
    clock.advance(DAY);
    const next = await api(s, token, "GET", `${V}/limits`);
    expect(next.status).toBe(200);
    expect(next.json.DailyApiRequests).toEqual({ Max: 3, Remaining: 2 });
    expect(s.counters().apiCalls).toBe(4);
  });

  it("expires a session after sessionTimeoutMs with 401 INVALID_SESSION_ID", async () => {
    const clock = new FixedClock("2026-03-01T00:00:00Z");
    const { s, token } = await setup({ clock, sessionTimeoutMs: 60_000 });
    expect((await api(s, token, "GET", `${V}/apps/oauth/usage`)).status).toBe(200);
    clock.advance(60_000);
    const res = await api(s, token, "GET", `${V}/apps/oauth/usage`);
    expect(res.status).toBe(401);
    expect(res.json).toEqual([{ message: "Session expired or invalid", errorCode: "INVALID_SESSION_ID" }]);
    const none = await fetch(`${s.url}${V}/apps/oauth/usage`);
    expect(none.status).toBe(401);
  });
});

describe("ids, paging and routing", () => {
  it("accepts 15- and 18-char ids anywhere and emits 18-char ids in URLs; a mangled suffix is unknown", async () => {
    const { s, app, token } = await setup();
    const c15 = app.consumerId.slice(0, 15);
    const byShort = await api(s, token, "GET", `${V}/apps/oauth/credentials/${app.appId15}/${c15}`);
    expect(byShort.json.url).toBe(`${V}/apps/oauth/credentials/${app.appId}/${app.consumerId}`);
    const post = await api(s, token, "POST", `${V}/apps/oauth/credentials/${app.appId15}/${c15}/staged`, {});
    const id18: string = only(post)["id"] ?? "";
    const base = `${V}/apps/oauth/credentials/${app.appId}/${app.consumerId}/staged`;
    expect((await api(s, token, "GET", `${base}/${id18.slice(0, 15)}`)).json.id).toBe(id18);
    expect(
      (await api(s, token, "GET", `${base}/${id18.slice(0, 15)}${id18.slice(15).toLowerCase()}`)).status,
    ).toBe(200);
    const mangled = `${id18.slice(0, 15)}${id18.slice(15) === "AAA" ? "BBB" : "AAA"}`;
    expect((await api(s, token, "GET", `${base}/${mangled}`)).status).toBe(404);
    expect((await api(s, token, "PATCH", `${base}/${id18.slice(0, 15)}`, { command: "rotate" })).status).toBe(
      200,
    );
  });

  it("pages the usage listing with nextPageUrl on every page and an empty page past the end", async () => {
    const { s, token } = await setup();
    s.createApp("Third_App");
    const names: string[] = [];
    let next: string | undefined = `${V}/apps/oauth/usage?pageSize=1`;
    let pages = 0;
    while (next) {
      const res = await api(s, token, "GET", next);
      expect(res.json.nextPageUrl).toEqual(expect.any(String));
      pages++;
      if (res.json.apps.length === 0) break;
      names.push(...res.json.apps.map((a: SimulatedApp) => a.developerName));
      next = res.json.nextPageUrl;
    }
    expect(names).toEqual(["ECA_Rotator_Admin", "Target_App", "Third_App"]);
    expect(pages).toBe(4);
    expect((await api(s, token, "GET", `${V}/apps/oauth/usage?page=-1`)).status).toBe(400);
  });

  it("answers unknown routes, apps, consumers and staged ids with 404 NOT_FOUND and wrong methods with 405", async () => {
    const { s, app, token, stagedUrl } = await setup();
    const notFound = [{ message: "The requested resource does not exist", errorCode: "NOT_FOUND" }];
    for (const path of [
      "/nowhere",
      `${V}/sobjects`,
      `${V}/apps/oauth/credentials/0xISm0000000zzz`,
      `${V}/apps/oauth/credentials/${app.appId}/888Sm0000000zzz`,
      `${stagedUrl}/0ugSm0000000zzz`,
    ]) {
      const res = await api(s, token, "GET", path);
      expect(res.status, path).toBe(404);
      expect(res.json).toEqual(notFound);
      expect(res.headers.get("sforce-limit-info")).toMatch(/^api-usage=\d+\/100000$/);
    }
    expect((await api(s, token, "DELETE", `${stagedUrl}/0ugSm0000000zzz`)).status).toBe(404);
    const put = await api(s, token, "PUT", stagedUrl, {});
    expect(put.status).toBe(405);
    expect(put.json[0].errorCode).toBe("METHOD_NOT_ALLOWED");
  });
});
