// Bad input from "Salesforce" (a deliberately malformed peer): every case ends in a typed RotatorError —
// SALESFORCE_UNEXPECTED_RESPONSE for broken bodies — never a crash, never a quoted body.
import { afterEach, describe, expect, it } from "vitest";
import { MiB } from "../../../src/adapters/http/http-client.ts";
import { SalesforceClient } from "../../../src/adapters/salesforce/salesforce-client.ts";
import { isRotatorError, type RotatorError } from "../../../src/core/errors.ts";
import { SecretValue } from "../../../src/core/secret-value.ts";
import { type FloodServer, startFloodServer } from "../../support/flood-server.ts";
import { html, json, type MalformedPeer, startMalformedPeer } from "./malformed-peer.ts";
import { caught } from "./salesforce-test-kit.ts";

const V = "/services/data/v65.0/apps/oauth";
const APP = "0xIWt0000003lOz";
const CONSUMER = "888Wt000000O8CXIA0";
const STAGED = "0ugWt00000000w5IAA";
const CONSUMER_PATH = `${V}/credentials/${APP}/${CONSUMER}`;

const stagedItem = (over: Record<string, unknown> = {}) => ({
  createdBy: "admin@example.com",
  createdDate: "2026-03-01T09:00:00.000Z",
  expirationDate: "2026-03-31T09:00:00.000Z",
  id: STAGED,
  key: "3MVG9new",
  secret: "ABCDEF",
  state: "active",
  url: `${CONSUMER_PATH}/staged/${STAGED}`,
  ...over,
});

let peer: MalformedPeer | undefined;
let attacker: MalformedPeer | undefined;
let flood: FloodServer | undefined;
afterEach(async () => {
  await peer?.close();
  await attacker?.close();
  await flood?.close();
  peer = attacker = flood = undefined;
});

/** A client of connection "prod" at `url`, as the rotator builds it from the config. */
function prodClient(url: string): SalesforceClient {
  return new SalesforceClient({
    connection: {
      name: "prod",
      myDomainUrl: url,
      apiVersion: "v65.0",
      auth: "client_credentials",
      jwtUsername: undefined,
      jwtPrivateKeyFile: undefined,
    },
    clientId: "3MVG9admin",
    clientSecret: SecretValue.of("admin-secret"),
    timeoutMs: 5_000,
    sleep: async () => {},
  });
}

async function expectUnexpected(p: Promise<unknown>, pattern: RegExp): Promise<RotatorError> {
  const err = await caught(p);
  expect(isRotatorError(err, "SALESFORCE_UNEXPECTED_RESPONSE")).toBe(true);
  const e = err as RotatorError;
  expect(e.message).toMatch(pattern);
  expect(e.retryable).toBe(false);
  return e;
}

describe("SalesforceClient against malformed answers", () => {
  it("turns truncated JSON into SALESFORCE_UNEXPECTED_RESPONSE without quoting it", async () => {
    peer = await startMalformedPeer();
    peer.on(`GET ${V}/usage`, { status: 200, body: '{"apps":[{"identifier":"0xIWt0000003lOz","devel' });
    const e = await expectUnexpected(
      peer.client().listApps(),
      /list apps: GET .*\/usage → HTTP 200: .*not JSON/,
    );
    expect(e.message).not.toContain("devel");
    expect(e.cause).toBeUndefined();
  });

  it("turns an HTML page with status 200 or 404 into SALESFORCE_UNEXPECTED_RESPONSE", async () => {
    peer = await startMalformedPeer();
    peer.on(`GET ${V}/usage`, html(200));
    await expectUnexpected(peer.client().listApps(), /HTTP 200: the answer is not JSON/);
    peer.on(`GET ${V}/usage`, html(404));
    await expectUnexpected(peer.client().listApps(), /HTTP 404: the answer is not a Salesforce error body/);
  });

  it("treats an HTML 503 maintenance page as SALESFORCE_UNAVAILABLE", async () => {
    peer = await startMalformedPeer();
    peer.on(`GET ${V}/usage`, html(503, "<html>down for maintenance</html>"));
    const err = (await caught(peer.client({ maxRetries: 1 }).listApps())) as RotatorError;
    expect(err.code).toBe("SALESFORCE_UNAVAILABLE");
    expect(err.message).not.toContain("maintenance");
  });

  it("names the missing field of an app, but not its values", async () => {
    peer = await startMalformedPeer();
    peer.on(`GET ${V}/usage`, json(200, { apps: [{ developerName: "Secretive_App" }], nextPageUrl: null }));
    const e = await expectUnexpected(peer.client().listApps(), /apps\.0\.identifier: invalid_type/);
    expect(e.message).not.toContain("Secretive_App");
  });

  it("refuses a staged set in an unknown state", async () => {
    peer = await startMalformedPeer();
    peer.on(
      `GET ${CONSUMER_PATH}/staged`,
      json(200, { stagedCredentials: [stagedItem({ state: "pending" })] }),
    );
    const e = await expectUnexpected(peer.client().listStaged(APP, CONSUMER), /unknown state/);
    expect(e.message).not.toContain("pending");
  });

  it("accepts the documented capitalised states", async () => {
    peer = await startMalformedPeer();
    peer.on(
      `GET ${CONSUMER_PATH}/staged`,
      json(200, { stagedCredentials: [stagedItem({ state: "Rotated" })] }),
    );
    expect((await peer.client().listStaged(APP, CONSUMER)).map((s) => s.state)).toEqual(["rotated"]);
  });

  it("sends POST staged with the body {} as JSON", async () => {
    peer = await startMalformedPeer();
    peer.on(`POST ${CONSUMER_PATH}/staged`, json(201, { stagedCredentials: [stagedItem()] }));
    const staged = await peer.client().createStaged(APP, CONSUMER);
    expect(staged.secret.reveal()).toBe("ABCDEF");
    const post = peer.requests.find((r) => r.method === "POST" && r.url.endsWith("/staged"));
    expect(post).toMatchObject({ body: "{}", contentType: "application/json" });
    expect(post?.authorization).toBe("Bearer 00Dfake!token");
  });

  it("flags a POST staged answered with a truncated body as uncertain", async () => {
    peer = await startMalformedPeer();
    peer.on(`POST ${CONSUMER_PATH}/staged`, { status: 201, body: '{"stagedCredentials":[{"key":"3MVG9' });
    const e = await expectUnexpected(peer.client().createStaged(APP, CONSUMER), /re-read the state/);
    expect(e.context["uncertain"]).toBe(true);
  });

  it("flags a POST staged answered with no set, or a set without secret, as uncertain", async () => {
    peer = await startMalformedPeer();
    peer.on(`POST ${CONSUMER_PATH}/staged`, json(201, { stagedCredentials: [] }));
    const none = await expectUnexpected(
      peer.client().createStaged(APP, CONSUMER),
      /expected one staged set, got 0/,
    );
    expect(none.context["uncertain"]).toBe(true);
    peer.on(
      `POST ${CONSUMER_PATH}/staged`,
      json(201, { stagedCredentials: [stagedItem({ secret: undefined })] }),
    );
    const bare = await expectUnexpected(peer.client().createStaged(APP, CONSUMER), /without key and secret/);
    expect(bare.context["uncertain"]).toBe(true);
  });

  it("times out a POST staged that never answers: uncertain, sent once", async () => {
    peer = await startMalformedPeer();
    peer.on(`POST ${CONSUMER_PATH}/staged`, "hang");
    const started = performance.now();
    const err = (await caught(peer.client({ timeoutMs: 300 }).createStaged(APP, CONSUMER))) as RotatorError;
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(err.code).toBe("SALESFORCE_UNAVAILABLE");
    expect(err.context["uncertain"]).toBe(true);
    expect(peer.requests.filter((r) => r.method === "POST" && r.url.endsWith("/staged"))).toHaveLength(1);
  });

  it("retries a read whose connection is reset, and never a PATCH", async () => {
    peer = await startMalformedPeer();
    let resets = 1;
    peer.on(`GET ${CONSUMER_PATH}/staged`, () =>
      resets-- > 0 ? "reset" : json(200, { stagedCredentials: [] }),
    );
    expect(await peer.client().listStaged(APP, CONSUMER)).toEqual([]);
    peer.on(`PATCH ${CONSUMER_PATH}/staged/${STAGED}`, "reset");
    const err = (await caught(peer.client().rotateStaged(APP, CONSUMER, STAGED))) as RotatorError;
    expect(err.context["uncertain"]).toBe(true);
    expect(peer.requests.filter((r) => r.method === "PATCH")).toHaveLength(1);
    expect(peer.requests.find((r) => r.method === "PATCH")?.body).toBe('{"command":"rotate"}');
  });

  it("flags a rotate answer that is still active as uncertain", async () => {
    peer = await startMalformedPeer();
    peer.on(`PATCH ${CONSUMER_PATH}/staged/${STAGED}`, json(200, stagedItem({ state: "active" })));
    const e = await expectUnexpected(
      peer.client().rotateStaged(APP, CONSUMER, STAGED),
      /the staged set is active, expected rotated/,
    );
    expect(e.context["uncertain"]).toBe(true);
  });

  it("refuses token answers that are HTML, incomplete, not Bearer or point to a non-http instance", async () => {
    peer = await startMalformedPeer();
    const token = "POST /services/oauth2/token";
    peer.on(token, html(200));
    await expectUnexpected(
      peer.client().login(),
      /login: POST \/services\/oauth2\/token → HTTP 200: the token answer is not JSON/,
    );
    peer.on(token, json(200, { instance_url: peer.url }));
    await expectUnexpected(peer.client().login(), /access_token: invalid_type/);
    peer.on(token, json(200, { access_token: "00D!x", instance_url: peer.url, token_type: "MAC" }));
    await expectUnexpected(peer.client().login(), /not a Bearer token/);
    peer.on(token, json(200, { access_token: "00D!x", instance_url: "javascript:alert(1)" }));
    await expectUnexpected(peer.client().login(), /instance_url is not an http\(s\) URL/);
    peer.on(token, html(400));
    await expectUnexpected(
      peer.client().login(),
      /HTTP 400: the token endpoint answered without an OAuth error body/,
    );
  });

  it("never follows a nextPageUrl to another host", async () => {
    peer = await startMalformedPeer();
    peer.on(
      `GET ${V}/usage`,
      json(200, {
        apps: [{ identifier: APP, developerName: "A" }],
        nextPageUrl: "https://evil.example/steal",
      }),
    );
    await expectUnexpected(peer.client().listApps(), /nextPageUrl is not a relative path/);
    peer.on(
      `GET ${V}/usage`,
      json(200, { apps: [{ identifier: APP, developerName: "A" }], nextPageUrl: "//evil.example/x" }),
    );
    await expectUnexpected(peer.client().listApps(), /nextPageUrl is not a relative path/);
  });

  it("stops paging when the next page is the same URL or repeats the same apps", async () => {
    peer = await startMalformedPeer();
    const app = { identifier: APP, developerName: "Only_App" };
    peer.on(`GET ${V}/usage`, (url) => json(200, { apps: [app], currentPageUrl: url, nextPageUrl: url }));
    expect(await peer.client().listApps()).toEqual([{ appId: APP, developerName: "Only_App" }]);
    expect(peer.requests.filter((r) => r.url.startsWith(`${V}/usage`))).toHaveLength(1);

    peer.on(`GET ${V}/usage`, (url) => {
      const page = Number(new URL(url, "http://x").searchParams.get("page") ?? "0");
      return json(200, { apps: [app], nextPageUrl: `${V}/usage?page=${page + 1}` });
    });
    expect(await peer.client().listApps()).toEqual([{ appId: APP, developerName: "Only_App" }]);
    expect(peer.requests.filter((r) => r.url.startsWith(`${V}/usage`))).toHaveLength(3);
  });

  it("gives up on a listing that never ends", async () => {
    peer = await startMalformedPeer();
    peer.on(`GET ${V}/usage`, (url) => {
      const page = Number(new URL(url, "http://x").searchParams.get("page") ?? "0");
      const id = `0xIWt${String(page).padStart(10, "0")}`;
      return json(200, {
        apps: [{ identifier: id, developerName: `App_${page}` }],
        nextPageUrl: `${V}/usage?page=${page + 1}`,
      });
    });
    await expectUnexpected(peer.client().listApps(), /more than 200 pages/);
  });

  it("refuses a consumer answer about another consumer, and reports a withheld secret as NOT_ENABLED", async () => {
    peer = await startMalformedPeer();
    peer.on(`GET ${CONSUMER_PATH}`, json(200, { id: "888Wt000000O8CY", key: "3MVG9", secret: "S" }));
    await expectUnexpected(peer.client().readConsumer(APP, CONSUMER, "keyandsecret"), /another consumer/);
    peer.on(`GET ${CONSUMER_PATH}`, json(200, { id: "888Wt000000O8CX", key: "3MVG9" }));
    const err = (await caught(peer.client().readConsumer(APP, CONSUMER, "keyandsecret"))) as RotatorError;
    expect(err.code).toBe("SALESFORCE_NOT_ENABLED");
    expect(peer.requests.at(-1)?.url).toBe(`${CONSUMER_PATH}?part=keyandsecret`);
  });

  it("reads Sforce-Limit-Info from every answer, failures included", async () => {
    peer = await startMalformedPeer();
    const client = peer.client();
    expect(client.apiUsage).toBeUndefined();
    await caught(client.getStaged(APP, CONSUMER, STAGED));
    expect(client.apiUsage).toEqual({ used: 7, max: 1000 });
  });
});

describe("SalesforceClient against a token answer naming another host as instance_url", () => {
  const TOKEN = "POST /services/oauth2/token";
  const ADMIN_TOKEN = "00Dadmin!token-that-must-stay-home";

  it("sends the admin token nowhere but the configured My Domain, and says how to fix a moved org", async () => {
    peer = await startMalformedPeer();
    // A second loopback server: same host, another port, so another origin.
    attacker = await startMalformedPeer();
    peer.on(
      TOKEN,
      json(200, { access_token: ADMIN_TOKEN, instance_url: attacker.url, token_type: "Bearer" }),
    );
    const client = prodClient(peer.url);
    try {
      const host = new URL(peer.url).host;
      const refused = await expectUnexpected(client.login(), /instance_url/);
      expect(refused.message).toBe(
        "login: POST /services/oauth2/token → HTTP 200: the token answer's instance_url is not the configured " +
          `my_domain_url (${host}); if the org moved, update salesforce.connections.prod.my_domain_url`,
      );
      expect(refused.message).not.toContain(ADMIN_TOKEN);
      await expectUnexpected(client.listApps(), /instance_url is not the configured my_domain_url/);
      await expectUnexpected(client.userInfo(), /instance_url is not the configured my_domain_url/);
    } finally {
      await client.close();
    }
    expect(attacker.requests).toEqual([]);
    expect(peer.requests.every((r) => r.url === "/services/oauth2/token")).toBe(true);
  });

  it("refuses the same host over another scheme, and accepts the My Domain URL with a trailing slash", async () => {
    peer = await startMalformedPeer();
    const client = prodClient(peer.url);
    try {
      peer.on(
        TOKEN,
        json(200, { access_token: ADMIN_TOKEN, instance_url: peer.url.replace("http:", "https:") }),
      );
      await expectUnexpected(client.login(), /instance_url is not the configured my_domain_url/);
      peer.on(TOKEN, json(200, { access_token: ADMIN_TOKEN, instance_url: `${peer.url}/` }));
      expect(await client.login()).toEqual({ instanceUrl: peer.url });
    } finally {
      await client.close();
    }
  });

  it("never sends a tested pair's session token to another host", async () => {
    peer = await startMalformedPeer();
    attacker = await startMalformedPeer();
    peer.on(TOKEN, (_url, body) =>
      body.includes("client_id=3MVG9tested")
        ? json(200, { access_token: "00Dtested!session", instance_url: attacker?.url, token_type: "Bearer" })
        : json(200, { access_token: ADMIN_TOKEN, instance_url: peer?.url, token_type: "Bearer" }),
    );
    const client = prodClient(peer.url);
    try {
      const check = await client.verifyPair("3MVG9tested", SecretValue.of("tested-secret"), {
        timeoutMs: 1_000,
      });
      expect(check).toMatchObject({ ok: false, code: "SALESFORCE_UNEXPECTED_RESPONSE", attempts: 1 });
      // provePairDead: a token was issued (the pair is alive), but an instance_url elsewhere is refused.
      await expectUnexpected(
        client.provePairDead("3MVG9tested", SecretValue.of("tested-secret")),
        /instance_url is not the configured my_domain_url/,
      );
    } finally {
      await client.close();
    }
    expect(attacker.requests).toEqual([]);
  });
});

describe("SalesforceClient against oversized answers", () => {
  const tokenAnswer = (url: () => string) => (_method: string, path: string) =>
    path === "/services/oauth2/token"
      ? {
          status: 200,
          body: JSON.stringify({ access_token: "00D!x", instance_url: url(), token_type: "Bearer" }),
        }
      : undefined;

  it("aborts a 200 MiB token answer after about 1 MiB: SALESFORCE_UNEXPECTED_RESPONSE, not retried", async () => {
    flood = await startFloodServer({ mode: "stream" });
    const client = prodClient(flood.url);
    try {
      const e = await expectUnexpected(
        client.login(),
        /^login: POST \/services\/oauth2\/token → HTTP 200: the answer is larger than 1 MiB$/,
      );
      expect(e.context["uncertain"]).toBeUndefined();
    } finally {
      await client.close();
    }
    const [sent = Number.POSITIVE_INFINITY] = await flood.settled();
    expect(sent).toBeLessThan(17 * MiB);
    expect(flood.requests).toEqual(["POST /services/oauth2/token"]);
  });

  it("refuses a REST answer declaring 200 MiB before reading any of it", async () => {
    let url = "";
    flood = await startFloodServer({ mode: "declared", answer: tokenAnswer(() => url) });
    url = flood.url;
    const client = prodClient(url);
    try {
      await expectUnexpected(
        client.listApps(),
        /list apps: GET .*\/usage → HTTP 200: the answer is larger than 1 MiB$/,
      );
    } finally {
      await client.close();
    }
    expect(await flood.settled()).toEqual([0]);
  });

  it("flags an oversized answer to POST staged as uncertain, sent once", async () => {
    let url = "";
    flood = await startFloodServer({ mode: "stream", status: 201, answer: tokenAnswer(() => url) });
    url = flood.url;
    const client = prodClient(url);
    try {
      const e = await expectUnexpected(
        client.createStaged(APP, CONSUMER),
        /larger than 1 MiB; .*re-read the state/,
      );
      expect(e.context["uncertain"]).toBe(true);
    } finally {
      await client.close();
    }
    expect(flood.requests.filter((r) => r.startsWith("POST") && r.endsWith("/staged"))).toHaveLength(1);
    expect((await flood.settled())[0]).toBeLessThan(17 * MiB);
  });
});
