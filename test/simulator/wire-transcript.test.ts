// The only first-hand wire capture of a rotation (a hands-on blog post, lekkimworld.com, 2025-09-24) replayed step by step against the simulator over real HTTP:
// the same field names, nesting and key order, `active` then `rotated`, and the fate of the prior pair.
import { createHmac } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { api, login, tokenRequest, V } from "./sim-client.ts";

const DAY = 24 * 60 * 60 * 1000;
let sim: SalesforceSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

/** Steps 1 to 7 of the capture; returns what the later steps need. */
async function stageLikeTheSeed(s: SalesforceSimulator) {
  const eca = s.createApp("ECA_Key_Secret_Rotation_Blog_Post");
  s.createApp("Credentials_API_Poc");

  // get an access token
  const tok = await tokenRequest(s, s.adminApp.consumerKey, s.adminApp.consumerSecret);
  expect(tok.status).toBe(200);
  expect(Object.keys(tok.json)).toEqual([
    "access_token",
    "signature",
    "scope",
    "instance_url",
    "id",
    "token_type",
    "issued_at",
    "token_format",
  ]);
  expect(tok.json.access_token).toMatch(/^00D[A-Za-z0-9]{12}!\S+$/);
  expect(tok.json).toMatchObject({ scope: "api", instance_url: s.url, token_type: "Bearer" });
  expect(tok.json.id).toMatch(/\/id\/00D[A-Za-z0-9]{15}\/005[A-Za-z0-9]{15}$/);
  expect(tok.json.issued_at).toMatch(/^\d{13}$/);
  const expectedSig = createHmac("sha256", s.adminApp.consumerSecret)
    .update(tok.json.id + tok.json.issued_at)
    .digest("base64");
  expect(tok.json.signature).toBe(expectedSig);
  const token: string = tok.json.access_token;

  // test the access token
  const me = await api(s, token, "GET", "/services/oauth2/userinfo");
  expect(me.status).toBe(200);
  expect(typeof me.json.name).toBe("string");

  // list the apps and take the identifier
  const usage = await api(s, token, "GET", `${V}/apps/oauth/usage`);
  expect(usage.status).toBe(200);
  expect(Object.keys(usage.json)).toEqual(["apps", "currentPageUrl", "nextPageUrl"]);
  const app = usage.json.apps.find((a: { developerName: string }) => a.developerName === eca.developerName);
  expect(Object.keys(app)).toEqual([
    "accessTokenFormat",
    "availableActions",
    "description",
    "developerName",
    "identifier",
    "isFromPackage",
    "usageDetailsUrl",
  ]);
  expect(app).toEqual({
    accessTokenFormat: "opaque",
    availableActions: "disable, enable",
    description: null,
    developerName: "ECA_Key_Secret_Rotation_Blog_Post",
    identifier: eca.appId15,
    isFromPackage: false,
    usageDetailsUrl: `/services/data/v65.0/apps/oauth/usage/${eca.appId15}/users`,
  });
  expect(app.identifier).toMatch(/^0xI[A-Za-z0-9]{12}$/);
  expect(usage.json.currentPageUrl).toBe("/services/data/v65.0/apps/oauth/usage?page=0&pageSize=100");
  expect(usage.json.nextPageUrl).toBe("/services/data/v65.0/apps/oauth/usage?page=1&pageSize=100");
  const appId15: string = app.identifier;

  // the main set of credentials: no secret here
  const creds = await api(s, token, "GET", `${V}/apps/oauth/credentials/${appId15}`);
  expect(creds.status).toBe(200);
  expect(Object.keys(creds.json)).toEqual(["consumers", "currentPageUrl"]);
  const consumer = creds.json.consumers[0];
  expect(Object.keys(consumer)).toEqual(["id", "key", "name", "stagedCredentialsUrl", "url"]);
  const appId18 = eca.appId;
  expect(appId18.slice(0, 15)).toBe(appId15);
  expect(consumer).toEqual({
    id: eca.consumerId,
    key: eca.consumerKey,
    name: "ECA Key Secret Rotation Blog Post",
    stagedCredentialsUrl: `/services/data/v65.0/apps/oauth/credentials/${appId18}/${eca.consumerId}/staged`,
    url: `/services/data/v65.0/apps/oauth/credentials/${appId18}/${eca.consumerId}`,
  });
  expect(consumer.id).toMatch(/^888[A-Za-z0-9]{15}$/);
  expect(creds.json.currentPageUrl).toBe(`/services/data/v65.0/apps/oauth/credentials/${appId18}`);

  // ask again, with the secret
  const both = await api(
    s,
    token,
    "GET",
    `${V}/apps/oauth/credentials/${appId15}/${consumer.id}?part=keyandsecret`,
  );
  expect(both.status).toBe(200);
  expect(Object.keys(both.json)).toEqual(["id", "key", "name", "secret", "stagedCredentialsUrl", "url"]);
  expect(both.json.secret).toBe(eca.consumerSecret);
  expect(both.json.secret).toMatch(/^[0-9A-F]{64}$/);
  expect(both.json.url).toBe(`${consumer.url}?part=keyandsecret`);

  // any staged credentials? none
  const none = await api(s, token, "GET", `${V}/apps/oauth/credentials/${appId15}/${consumer.id}/staged`);
  expect(none.status).toBe(200);
  expect(none.json).toEqual({ stagedCredentials: [], url: consumer.stagedCredentialsUrl });

  // create a set (a POST without a body, as in the capture)
  const post = await api(s, token, "POST", `${V}/apps/oauth/credentials/${appId15}/${consumer.id}/staged`);
  expect(post.status).toBe(201);
  expect(Object.keys(post.json)).toEqual(["stagedCredentials", "url"]);
  expect(post.json.url).toBe(consumer.stagedCredentialsUrl);
  expect(post.json.stagedCredentials).toHaveLength(1);
  const staged = post.json.stagedCredentials[0];
  expect(Object.keys(staged)).toEqual([
    "createdBy",
    "createdDate",
    "expirationDate",
    "id",
    "key",
    "secret",
    "state",
    "url",
  ]);
  expect(staged.state).toBe("active");
  expect(staged.createdBy).toBe(s.adminUser.username);
  expect(staged.id).toMatch(/^0ug[A-Za-z0-9]{15}$/);
  expect(staged.url).toBe(`${consumer.stagedCredentialsUrl}/${staged.id}`);
  expect(staged.createdDate).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
  expect(Date.parse(staged.expirationDate) - Date.parse(staged.createdDate)).toBe(30 * DAY);
  expect(staged.key).not.toBe(eca.consumerKey);
  expect(staged.key).toMatch(/^3MVG9[A-Za-z0-9._]{80}$/);

  // two sets of active credentials now
  expect((await tokenRequest(s, eca.consumerKey, eca.consumerSecret)).status).toBe(200);
  expect((await tokenRequest(s, staged.key, staged.secret)).status).toBe(200);
  expect(s.validPairs(eca.appId, eca.consumerId)).toEqual([
    { key: eca.consumerKey, role: "primary" },
    { key: staged.key, role: "staged" },
  ]);
  return { s, eca, token, consumer, staged };
}

async function rotate(s: SalesforceSimulator, token: string, stagedUrl: string) {
  const res = await api(s, token, "PATCH", stagedUrl, '{ "command": "rotate" }');
  expect(res.status).toBe(200);
  expect(Object.keys(res.json)).toEqual([
    "createdBy",
    "createdDate",
    "expirationDate",
    "id",
    "key",
    "secret",
    "state",
    "url",
  ]);
  expect(res.json.state).toBe("rotated");
  return res.json;
}

describe("a published hands-on transcript of a rotation", () => {
  it("in immediate mode: the main set and the rotated record hold the new pair and the prior pair is refused", async () => {
    sim = await startSalesforceSimulator({ rotateSemantics: "immediate" });
    const { s, eca, token, consumer, staged } = await stageLikeTheSeed(sim);

    const rotated = await rotate(s, token, staged.url);
    expect(rotated.id).toBe(staged.id);
    expect(rotated.key).toBe(staged.key);
    expect(rotated.secret).toBe(staged.secret);

    const main = await api(s, token, "GET", `${consumer.url}?part=keyandsecret`);
    expect(main.json.key).toBe(staged.key);
    expect(main.json.secret).toBe(staged.secret);

    const prior = await tokenRequest(s, eca.consumerKey, eca.consumerSecret);
    expect(prior.status).toBe(400);
    expect(prior.json).toEqual({
      error: "invalid_client_id",
      error_description: "client identifier invalid",
    });
    expect((await tokenRequest(s, staged.key, staged.secret)).status).toBe(200);
    expect(s.validPairs(eca.appId, eca.consumerId)).toEqual([{ key: staged.key, role: "primary" }]);
    expect(s.counters().promotions).toBe(1);
  });

  it("in overlap mode: the prior pair lingers as the rotated record until it is deleted", async () => {
    sim = await startSalesforceSimulator({ rotateSemantics: "overlap" });
    const { s, eca, token, consumer, staged } = await stageLikeTheSeed(sim);

    const rotated = await rotate(s, token, staged.url);
    expect(rotated.key).toBe(eca.consumerKey);
    expect(rotated.secret).toBe(eca.consumerSecret);

    const main = await api(s, token, "GET", `${consumer.url}?part=keyandsecret`);
    expect(main.json.key).toBe(staged.key);
    expect((await tokenRequest(s, eca.consumerKey, eca.consumerSecret)).status).toBe(200);
    expect((await tokenRequest(s, staged.key, staged.secret)).status).toBe(200);
    expect(s.validPairs(eca.appId, eca.consumerId)).toEqual([
      { key: staged.key, role: "primary" },
      { key: eca.consumerKey, role: "rotated" },
    ]);

    const list = await api(s, token, "GET", consumer.stagedCredentialsUrl);
    expect(list.json.stagedCredentials.map((x: { state: string }) => x.state)).toEqual(["rotated"]);

    const del = await api(s, token, "DELETE", rotated.url);
    expect(del.status).toBe(204);
    expect(del.text).toBe("");
    const prior = await tokenRequest(s, eca.consumerKey, eca.consumerSecret);
    expect(prior.status).toBe(400);
    expect(prior.json.error).toBe("invalid_client_id");
    expect((await login(s, staged.key, staged.secret)).length).toBeGreaterThan(20);
    expect((await api(s, token, "GET", consumer.stagedCredentialsUrl)).json.stagedCredentials).toEqual([]);
  });

  it("in overlap-new-shown mode: the rotated record shows the new pair, yet the prior pair logs in until the record is deleted", async () => {
    sim = await startSalesforceSimulator({ rotateSemantics: "overlap-new-shown" });
    const { s, eca, token, consumer, staged } = await stageLikeTheSeed(sim);

    const rotated = await rotate(s, token, staged.url);
    expect(rotated.id).toBe(staged.id);
    expect(rotated.key).toBe(staged.key);
    expect(rotated.secret).toBe(staged.secret);
    const main = await api(s, token, "GET", `${consumer.url}?part=keyandsecret`);
    expect([main.json.key, main.json.secret]).toEqual([staged.key, staged.secret]);
    // Nothing the API answers names the prior pair any more, yet it still logs in.
    const list = await api(s, token, "GET", consumer.stagedCredentialsUrl);
    expect(list.json.stagedCredentials.map((x: { key: string; state: string }) => [x.key, x.state])).toEqual([
      [staged.key, "rotated"],
    ]);
    expect(list.text).not.toContain(eca.consumerKey);
    expect((await tokenRequest(s, eca.consumerKey, eca.consumerSecret)).status).toBe(200);
    expect(s.validPairs(eca.appId, eca.consumerId)).toEqual([
      { key: staged.key, role: "primary" },
      { key: eca.consumerKey, role: "rotated" },
    ]);

    expect((await api(s, token, "DELETE", rotated.url)).status).toBe(204);
    const prior = await tokenRequest(s, eca.consumerKey, eca.consumerSecret);
    expect(prior.status).toBe(400);
    expect(prior.json.error).toBe("invalid_client_id");
    expect((await login(s, staged.key, staged.secret)).length).toBeGreaterThan(20);
    expect(s.validPairs(eca.appId, eca.consumerId)).toEqual([{ key: staged.key, role: "primary" }]);
  });
});
