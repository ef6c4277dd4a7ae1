// The checks before any handler: the Host header (DNS rebinding), read tokens on the GET routes, and the 401
// counter and summary. Attackers: a web page in the operator's browser whose name was rebound to 127.0.0.1
// (it controls the Host name but not the token), and anyone who can reach the port without a token, or with
// only a read token. Every token is a canary that must never show in a response or a log line.
import { connect } from "node:net";
import { hostname } from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import { SecretValue } from "../../src/core/secret-value.ts";
import { UnauthorizedSummary } from "../../src/daemon/http-auth.ts";
import { createLogger } from "../../src/daemon/logger.ts";
import { createDaemonMetrics } from "../../src/daemon/metrics.ts";
import type { ApiToken } from "../../src/http/bearer-auth.ts";
import type { HttpAccessRecord, HttpDeps, UnauthorizedEvent } from "../../src/http/http-server.ts";
import { startHttpServer } from "../../src/http/http-server.ts";
import { allowedHostNames, checkHost } from "../../src/http/request-guard.ts";
import { FakeDaemonView, inventoryItem, rotationView } from "../support/fake-daemon-view.ts";
import { type ApiResponse, startTestApi, type TestApi } from "../support/http-api-client.ts";

const API_TOKEN = "test-secret-canary-guard-api-token-4e1d9a";
const READ_TOKEN = "test-secret-canary-guard-read-token-77b0c2";
const PROD = "api-credentials/acme/prod";
const CANARIES = [API_TOKEN, READ_TOKEN, Buffer.from(`x:${READ_TOKEN}`).toString("base64")];

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const basic = (user: string, token: string) => ({
  authorization: `Basic ${Buffer.from(`${user}:${token}`).toString("base64")}`,
});

let running: TestApi | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function setup(opts: { read?: readonly string[] | "off"; deps?: Partial<HttpDeps> } = {}) {
  const view = new FakeDaemonView();
  view.setItems([inventoryItem(PROD, "ok", { consumers: ["billing"] })]);
  view.rotations = [rotationView({ rotationId: "rot-1" })];
  const metrics = createDaemonMetrics({ version: "9.9.9", connections: [] });
  // The view serves the real registry, so /metrics shows the counter the hook feeds.
  view.metrics = () => metrics.text();
  const access: HttpAccessRecord[] = [];
  const refused: UnauthorizedEvent[] = [];
  const named = (list: readonly string[], prefix: string): ApiToken[] =>
    list.map((t, i) => ({ name: `${prefix}${i}`, token: SecretValue.of(t) }));
  const read = opts.read ?? [READ_TOKEN];
  const api = await startTestApi({
    view,
    apiTokens: async () => named([API_TOKEN], "ci"),
    readTokens: read === "off" ? undefined : async () => named(read, "reader"),
    allowedHosts: ["eca-rotator.eca-rotator.svc"],
    version: "9.9.9",
    kvMount: "secret",
    log: (line) => access.push(line),
    onUnauthorized: (event) => {
      refused.push(event);
      metrics.recordUnauthorized(event.access, event.reason);
    },
    ...opts.deps,
  });
  running = api;
  return { api, view, metrics, access, refused };
}

function errorOf(res: ApiResponse) {
  return (res.json() as { error: { code: string; message: string; requestId: string } }).error;
}

/** Nothing the server said or logged carries a planted token or the Basic header built from one. */
function expectNoCanary(...texts: unknown[]) {
  const all = texts.map((t) => (typeof t === "string" ? t : JSON.stringify(t))).join("\n");
  for (const canary of CANARIES) expect(all).not.toContain(canary);
}

describe("the Host check", () => {
  it.each([
    ["GET", "/"],
    ["GET", "/healthz"],
    ["GET", "/readyz"],
    ["GET", "/metrics"],
    ["GET", `/v1/credentials/${PROD}`],
    ["GET", "/no/such/route"],
    ["DELETE", "/healthz"],
    ["POST", `/v1/credentials/${PROD}/rotate`],
  ] as const)("answers 421 to %s %s for Host evil.example, before auth and routing", async (method, url) => {
    const { api, view, refused } = await setup();
    const res = await api.request({
      method,
      url,
      headers: { host: "evil.example", ...bearer(API_TOKEN), "content-type": "application/json" },
      ...(method === "POST" ? { payload: '{"mode":"now"}' } : {}),
    });
    expect(res.statusCode).toBe(421);
    expect(res.json()).toEqual({
      error: {
        code: "MISDIRECTED_REQUEST",
        message:
          "this server does not answer for the host named in the Host header (see server.allowed_hosts)",
        requestId: res.headers["x-request-id"],
      },
    });
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.body).not.toContain("evil");
    expect(view.rotationRequests).toEqual([]);
    expect(refused).toEqual([]);
  });

  it("checks the Host of a request the router cannot route too, before saying 400", async () => {
    const { api } = await setup({ read: "off" });
    const url = "/v1/credentials/%E0%A4%A";
    expect((await api.request({ url, headers: { host: "evil.example" } })).statusCode).toBe(421);
    expect((await api.request({ url, headers: { host: "localhost" } })).statusCode).toBe(400);
  });

  it.each([
    "127.0.0.1",
    "127.0.0.1:8080",
    "10.20.30.40:8080",
    "[::1]",
    "[::1]:8080",
    "[::ffff:127.0.0.1]:80",
    "localhost",
    "LocalHost:8080",
    "localhost.:8080",
    "eca-rotator.eca-rotator.svc",
    "ECA-ROTATOR.eca-rotator.SVC:8080",
  ])("lets Host %s through", async (host) => {
    const { api } = await setup({ read: "off" });
    const res = await api.request({ url: "/v1/credentials", headers: { host } });
    expect(res.statusCode, res.body).toBe(200);
  });

  it.each([
    "evil.example",
    "evil.example:8080",
    "127.0.0.1.nip.io",
    "localhost.evil.example",
    "eca-rotator.eca-rotator.svc.evil.example",
    "0x7f000001",
    "127.1",
    "::1",
    "[not-an-ip]:80",
    "[::1]junk",
    "localhost:80:80",
    "local host",
  ])("refuses Host %s with 421", async (host) => {
    const { api } = await setup({ read: "off" });
    const res = await api.request({ url: "/v1/credentials", headers: { host } });
    expect(res.statusCode).toBe(421);
  });

  it("allows localhost, names from the list and a listen name, never an IP-looking name", () => {
    const names = allowedHostNames(["Rotator.Example.", "0.0.0.0", "::"]);
    expect([...names].sort()).toEqual(["localhost", "rotator.example"]);
    expect(checkHost("rotator.example:443", names)).toBe("allowed");
    expect(checkHost(undefined, names)).toBe("missing");
    expect(checkHost(" ", names)).toBe("missing");
    expect(checkHost("other.example", names)).toBe("not_allowed");
  });
});

describe("read tokens", () => {
  const READ_ROUTES = ["/", "/v1/credentials", `/v1/credentials/${PROD}`, "/v1/rotations/rot-1", "/metrics"];

  it.each(READ_ROUTES)(
    "refuses GET %s without a token (401) and serves it with a read token",
    async (url) => {
      const { api } = await setup();
      const refused = await api.request(url);
      expect(refused.statusCode).toBe(401);
      expect(errorOf(refused)).toMatchObject({ code: "UNAUTHORIZED" });
      expect(refused.body).not.toContain("acme");
      expect((await api.request({ url, headers: bearer(READ_TOKEN) })).statusCode).toBe(200);
      expect((await api.request({ url, headers: basic("anyone", READ_TOKEN) })).statusCode).toBe(200);
    },
  );

  it("lets an API (write) token read too, as Bearer or Basic", async () => {
    const { api } = await setup();
    for (const headers of [bearer(API_TOKEN), basic("", API_TOKEN)]) {
      expect((await api.request({ url: "/v1/credentials", headers })).statusCode).toBe(200);
    }
  });

  it("asks a browser for Basic on the status page, and API clients for Bearer or Basic elsewhere", async () => {
    const { api } = await setup();
    const page = await api.request("/");
    expect(page.headers["www-authenticate"]).toBe('Basic realm="eca-rotator", charset="UTF-8"');
    expect(page.headers["content-type"]).toMatch(/^application\/json/);
    const listing = await api.request("/v1/credentials");
    expect(listing.headers["www-authenticate"]).toEqual([
      'Bearer realm="eca-rotator"',
      'Basic realm="eca-rotator", charset="UTF-8"',
    ]);
    const wrong = await api.request({ url: "/v1/credentials", headers: bearer(`${READ_TOKEN}x`) });
    expect(wrong.headers["www-authenticate"]).toEqual([
      'Bearer realm="eca-rotator", error="invalid_token"',
      'Basic realm="eca-rotator", charset="UTF-8"',
    ]);
    expect(errorOf(wrong).message).toBe("the token is not valid");
  });

  it("never reads Vault for an unauthenticated GET /v1/credentials/{path}", async () => {
    const { api, view } = await setup();
    view.fail("credential", new Error("test-secret-canary-the-view-was-called"));
    const res = await api.request(`/v1/credentials/${PROD}`);
    expect(res.statusCode).toBe(401);
    // With a token the handler runs (and meets the planted failure): the 401 came before it.
    expect(
      (await api.request({ url: `/v1/credentials/${PROD}`, headers: bearer(READ_TOKEN) })).statusCode,
    ).toBe(500);
  });

  it.each([
    ["a wrong token", bearer("test-secret-canary-guessed-token-000000000")],
    ["a read token with one character more", bearer(`${READ_TOKEN}0`)],
    ["a prefix of the read token", bearer(READ_TOKEN.slice(0, -1))],
    ["Basic with a wrong password", basic("admin", "test-secret-canary-guessed-token-000000000")],
    ["Basic with the token as the user name", basic(READ_TOKEN, "")],
    ["Basic without a colon", { authorization: `Basic ${Buffer.from(READ_TOKEN).toString("base64")}` }],
    ["another scheme", { authorization: `Token ${READ_TOKEN}` }],
    ["the bare token", { authorization: READ_TOKEN }],
  ])("refuses %s", async (_name, headers) => {
    const { api } = await setup();
    const res = await api.request({ url: "/v1/credentials", headers });
    expect(res.statusCode).toBe(401);
  });

  it("guards HEAD and unknown paths too, so no route is open by accident", async () => {
    const { api } = await setup();
    expect((await api.request({ method: "HEAD", url: "/v1/credentials" })).statusCode).toBe(401);
    expect((await api.request("/v2/new-route")).statusCode).toBe(401);
    expect((await api.request({ url: "/v2/new-route", headers: bearer(READ_TOKEN) })).statusCode).toBe(404);
  });

  it("keeps the probes and the icon open, whatever Authorization says", async () => {
    const { api, refused } = await setup();
    for (const headers of [{}, bearer("test-secret-canary-guessed-token-000000000")]) {
      expect((await api.request({ url: "/healthz", headers })).statusCode).toBe(200);
      expect((await api.request({ url: "/readyz", headers })).statusCode).toBe(200);
      expect((await api.request({ url: "/favicon.ico", headers })).statusCode).toBe(204);
    }
    expect(refused).toEqual([]);
  });

  it("does not let a read token write", async () => {
    const { api, view, refused } = await setup();
    const res = await api.request({
      method: "POST",
      url: `/v1/credentials/${PROD}/rotate`,
      headers: { ...bearer(READ_TOKEN), "content-type": "application/json" },
      payload: '{"mode":"now"}',
    });
    expect(res.statusCode).toBe(401);
    expect(view.rotationRequests).toEqual([]);
    expect(refused).toEqual([{ access: "write", reason: "wrong", client: "127.0.0.1" }]);
  });

  it("stays closed when every read token was refused on a re-read: no token list is not an open door", async () => {
    const { api } = await setup({ read: [], deps: { apiTokens: async () => [] } });
    expect((await api.request("/v1/credentials")).statusCode).toBe(401);
    expect((await api.request({ url: "/v1/credentials", headers: bearer(READ_TOKEN) })).statusCode).toBe(401);
    expect((await api.request("/healthz")).statusCode).toBe(200);
  });

  it("answers 503 for an unknown token while a token source cannot be read, but lets a readable token in", async () => {
    const { api } = await setup({
      deps: { apiTokens: async () => Promise.reject(new Error("test-secret-canary-unreadable")) },
    });
    const unknown = await api.request({ url: "/v1/credentials", headers: bearer(`${READ_TOKEN}x`) });
    expect(unknown.statusCode).toBe(503);
    expect(unknown.body).not.toContain("canary");
    expect((await api.request({ url: "/v1/credentials", headers: bearer(READ_TOKEN) })).statusCode).toBe(200);
    expect((await api.request("/v1/credentials")).statusCode).toBe(401);
  });

  it("leaves every GET route open without read tokens, as before", async () => {
    const { api } = await setup({ read: "off" });
    for (const url of READ_ROUTES) expect((await api.request(url)).statusCode, url).toBe(200);
  });
});

describe("counting and logging 401s", () => {
  it("counts each refusal by access and reason in eca_rotator_http_unauthorized_total", async () => {
    const { api, refused } = await setup();
    await api.request("/v1/credentials"); // read, missing
    await api.request({ url: "/", headers: { authorization: "Bearer" } }); // read, malformed
    await api.request({ url: "/metrics", headers: bearer(`${READ_TOKEN}x`) }); // read, wrong
    await api.request({ url: "/metrics", headers: basic("u", `${API_TOKEN}x`) }); // read, wrong
    const post = (headers: Record<string, string>) =>
      api.request({
        method: "POST",
        url: `/v1/credentials/${PROD}/rotate`,
        headers: { ...headers, "content-type": "application/json" },
        payload: '{"mode":"now"}',
      });
    await post({}); // write, missing
    await post(bearer(READ_TOKEN)); // write, wrong
    await post(bearer(API_TOKEN)); // accepted
    expect(refused.map((r) => `${r.access}:${r.reason}`)).toEqual([
      "read:missing",
      "read:malformed",
      "read:wrong",
      "read:wrong",
      "write:missing",
      "write:wrong",
    ]);

    const metrics = await api.request({ url: "/metrics", headers: bearer(READ_TOKEN) });
    for (const [labels, n] of [
      ['access="read",reason="missing"', 1],
      ['access="read",reason="malformed"', 1],
      ['access="read",reason="wrong"', 2],
      ['access="write",reason="missing"', 1],
      ['access="write",reason="malformed"', 0],
      ['access="write",reason="wrong"', 1],
    ] as const) {
      expect(metrics.body).toContain(`eca_rotator_http_unauthorized_total{${labels}} ${n}\n`);
    }
    expectNoCanary(metrics.body);
  });

  it("summarises a flood of 401s in one warning line without a token or header, and logs no header per request", async () => {
    const lines: string[] = [];
    const log = createLogger("info", { write: (line: string) => void lines.push(line) });
    const summary = new UnauthorizedSummary({ log, intervalMs: 60_000 });
    const { api, access } = await setup({ deps: { onUnauthorized: (e) => summary.record(e) } });
    for (let i = 0; i < 20; i++) {
      await api.request({ url: "/v1/credentials", headers: bearer(`${READ_TOKEN}${i}`) });
      await api.request({ url: "/", headers: basic("admin", `${API_TOKEN}${i}`) });
    }
    expect(lines).toHaveLength(1); // the first refusal; the rest wait for the interval
    summary.close();
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[1] ?? "{}")).toMatchObject({ refused: 39, wrong: 39, reads: 39 });
    expect(access).toHaveLength(40);
    expect(access.every((r) => r.status === 401 && Object.keys(r).every((k) => k !== "authorization"))).toBe(
      true,
    );
    expectNoCanary(lines, access);
  });
});

describe("over a real socket", () => {
  it("answers an HTTP/1.0 request without Host with 400, and a rebinding Host with 421", async () => {
    const server = await startHttpServer(
      {
        view: new FakeDaemonView(),
        apiTokens: async () => [],
        readTokens: async () => [{ name: "r", token: SecretValue.of(READ_TOKEN) }],
        version: "9.9.9",
        kvMount: "secret",
      },
      { host: "127.0.0.1", port: 0 },
    );
    try {
      const { port } = new URL(server.url);
      const noHost = await raw(Number(port), "127.0.0.1", "GET /healthz HTTP/1.0\r\n\r\n");
      expect(noHost).toMatch(/^HTTP\/1\.1 400 /);
      expect(noHost).toContain('"message":"a Host header is required"');
      const rebound = await raw(
        Number(port),
        "127.0.0.1",
        `GET / HTTP/1.1\r\nHost: attacker.example:${port}\r\nAuthorization: Bearer ${READ_TOKEN}\r\nConnection: close\r\n\r\n`,
      );
      expect(rebound).toMatch(/^HTTP\/1\.1 421 /);
      const page = await raw(
        Number(port),
        "127.0.0.1",
        `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`,
      );
      expect(page).toMatch(/^HTTP\/1\.1 401 /);
      expect(page).toMatch(/\r\nwww-authenticate: Basic realm="eca-rotator", charset="UTF-8"\r\n/i);
      expectNoCanary(noHost, rebound, page);
    } finally {
      await server.close();
    }
  });

  it("answers for the listen address's host name", async () => {
    const name = hostname().toLowerCase();
    const server = await startHttpServer(
      { view: new FakeDaemonView(), apiTokens: async () => [], version: "9.9.9", kvMount: "secret" },
      { host: name, port: 0 },
    );
    try {
      const { port } = new URL(server.url);
      const ask = (host: string) =>
        raw(Number(port), name, `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      expect(await ask(`${name.toUpperCase()}:${port}`)).toMatch(/^HTTP\/1\.1 200 /);
      expect(await ask(`${name}.evil.example:${port}`)).toMatch(/^HTTP\/1\.1 421 /);
    } finally {
      await server.close();
    }
  });
});

/** Sends `request` byte for byte over a bare socket; resolves with everything the server sent. */
function raw(port: number, host: string, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    let received = "";
    socket.on("data", (chunk) => {
      received += chunk.toString("latin1");
    });
    socket.on("end", () => resolve(received));
    socket.on("error", reject);
    socket.write(request);
  });
}
