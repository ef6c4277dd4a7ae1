// The test-only /__sim/ endpoints (off by default), and the promise that the request hook never sees a secret.
import { afterEach, describe, expect, it } from "vitest";
import {
  type SalesforceSimulator,
  type SimulatorOptions,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { adminLogin, api, tokenRequest, V } from "./sim-client.ts";

let sim: SalesforceSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});
async function start(opts: SimulatorOptions = {}) {
  sim = await startSalesforceSimulator(opts);
  return sim;
}

async function admin(s: SalesforceSimulator, method: string, path: string, body?: unknown) {
  const res = await fetch(`${s.url}/__sim/${path}`, {
    method,
    headers: { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

describe("the admin API", () => {
  it("is off by default: every /__sim/ path is a Salesforce 404", async () => {
    const s = await start();
    const res = await admin(s, "GET", "counters");
    expect(res.status).toBe(404);
    expect(res.json[0].errorCode).toBe("NOT_FOUND");
    expect((await admin(s, "POST", "apps", { developerName: "X" })).status).toBe(404);
  });

  it("creates apps, lists valid pairs, reads counters, flips switches and manages faults when on", async () => {
    const s = await start({ adminApi: true });
    expect((await admin(s, "GET", "admin-app")).json).toEqual(s.adminApp);
    const created = await admin(s, "POST", "apps", { developerName: "Via_Admin_Api", consumers: 2 });
    expect(created.status).toBe(201);
    expect(created.json.consumerIds).toHaveLength(2);
    const pairs = await admin(
      s,
      "GET",
      `apps/${created.json.appId}/consumers/${created.json.consumerId}/valid-pairs`,
    );
    expect(pairs.json).toEqual({ pairs: [{ key: created.json.consumerKey, role: "primary" }] });
    const primary = await admin(
      s,
      "GET",
      `apps/${created.json.appId15}/consumers/${created.json.consumerIds[1]}`,
    );
    expect(Object.keys(primary.json)).toEqual(["key", "secret"]);

    expect(
      (await admin(s, "PATCH", "options", { postStatus: 200, rotateSemantics: "immediate" })).status,
    ).toBe(204);
    const token = await adminLogin(s);
    const stagedUrl = `${V}/apps/oauth/credentials/${created.json.appId}/${created.json.consumerId}/staged`;
    expect((await api(s, token, "POST", stagedUrl, {})).status).toBe(200);
    const bad = await admin(s, "PATCH", "options", { postStatus: 202 });
    expect(bad.status).toBe(400);
    expect(bad.json[0].message).toContain("postStatus");

    expect(
      (await admin(s, "POST", "faults", { pathRegex: "/limits$", status5xxRate: 1, times: 1 })).status,
    ).toBe(204);
    expect((await api(s, token, "GET", `${V}/limits`)).status).toBe(503);
    expect((await api(s, token, "GET", `${V}/limits`)).status).toBe(200);
    await admin(s, "POST", "faults", { path: "/limits", status5xxRate: 1 });
    expect((await admin(s, "GET", "counters")).status).toBe(200);
    expect((await admin(s, "DELETE", "faults")).status).toBe(204);
    expect((await api(s, token, "GET", `${V}/limits`)).status).toBe(200);

    const counters = await admin(s, "GET", "counters");
    expect(counters.json).toMatchObject({ stagedPosts: 1, promotions: 0, tokenRequests: 1 });
    expect((await admin(s, "POST", "faults", { pathRegex: "(" })).status).toBe(400);
    expect((await admin(s, "POST", "apps", { developerName: "Via_Admin_Api" })).status).toBe(400);
  });
});

describe("request events", () => {
  it("carry method, path, status and time only: no key, secret or token ever", async () => {
    const events: unknown[] = [];
    const s = await start({ onRequest: (e) => events.push(e) });
    const app = s.createApp("Quiet_App");
    const token = await adminLogin(s);
    const base = `${V}/apps/oauth/credentials/${app.appId}/${app.consumerId}`;
    await api(s, token, "GET", `${base}?part=keyandsecret`);
    const staged = (await api(s, token, "POST", `${base}/staged`, {})).json.stagedCredentials[0];
    await tokenRequest(s, staged.key, staged.secret);
    await api(s, token, "PATCH", staged.url, { command: "rotate" });
    await fetch(`${s.url}/services/oauth2/revoke?token=${encodeURIComponent(token)}`);
    const log = JSON.stringify(events);
    expect(events.length).toBe(6);
    expect(events[0]).toEqual({
      method: "POST",
      path: "/services/oauth2/token",
      status: 200,
      ms: expect.any(Number),
    });
    for (const secret of [
      app.consumerKey,
      app.consumerSecret,
      s.adminApp.consumerKey,
      s.adminApp.consumerSecret,
      staged.key,
      staged.secret,
      token,
      token.split("!")[1] ?? "",
    ]) {
      expect(log).not.toContain(secret);
    }
  });
});
