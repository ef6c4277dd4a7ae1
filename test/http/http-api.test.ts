import { connect } from "node:net";
import { request as undiciRequest } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { RotatorError } from "../../src/core/errors.ts";
import { SecretValue } from "../../src/core/secret-value.ts";
import type { HttpAccessRecord, HttpDeps } from "../../src/http/http-server.ts";
import { startHttpServer } from "../../src/http/http-server.ts";
import { FakeDaemonView, inventoryItem, rotationView } from "../support/fake-daemon-view.ts";
import { type ApiResponse, startTestApi, type TestApi } from "../support/http-api-client.ts";

const TOKEN = "test-secret-canary-api-token-7f3a";
const OTHER_TOKEN = "test-secret-canary-api-token-ops-91c2";
const AUTH = { authorization: `Bearer ${TOKEN}` };
const JSON_CT = { "content-type": "application/json" };
const PROD = "api-credentials/acme/prod";

let running: TestApi | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function setup(opts: { tokens?: string[]; deps?: Partial<HttpDeps>; requestTimeoutMs?: number } = {}) {
  const view = new FakeDaemonView();
  view.setItems([
    inventoryItem(PROD, "ok", { consumers: ["billing"], contact: "team-a@example.com" }),
    inventoryItem("api-credentials/acme/dev", "overdue", { deadline: new Date("2026-04-01T00:00:00Z") }),
  ]);
  const log: HttpAccessRecord[] = [];
  const tokens = opts.tokens ?? [TOKEN, OTHER_TOKEN];
  const api = await startTestApi(
    {
      view,
      apiTokens: async () =>
        tokens.map((t, i) => ({ name: i === 0 ? "ci" : "ops", token: SecretValue.of(t) })),
      version: "9.9.9",
      kvMount: "secret",
      log: (line) => log.push(line),
      ...opts.deps,
    },
    opts.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: opts.requestTimeoutMs },
  );
  running = api;
  return { api, view, log };
}

function rotate(a: TestApi, body: unknown, headers: Record<string, string> = { ...AUTH, ...JSON_CT }) {
  return a.request({
    method: "POST",
    url: `/v1/credentials/${PROD}/rotate`,
    headers,
    payload: typeof body === "string" ? body : JSON.stringify(body),
  });
}

function errorOf(res: ApiResponse) {
  return (res.json() as { error: { code: string; message: string; requestId: string } }).error;
}

describe("health routes", () => {
  it("answers /healthz with ok and the security headers", async () => {
    const { api } = await setup();
    const res = await api.request("/healthz");
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: "ok" });
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.headers["referrer-policy"]).toBe("no-referrer");
    expect(res.headers["x-frame-options"]).toBe("DENY");
    expect(res.headers["content-security-policy"]).toContain("default-src 'none'");
    expect(res.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("ignores a caller-supplied x-request-id", async () => {
    const { api } = await setup();
    // A newline cannot cross the wire in a header; a caller's id that looks like ours is refused as well.
    const callers = "00000000-0000-4000-8000-00000000beef";
    const res = await api.request({ url: "/healthz", headers: { "x-request-id": callers } });
    expect(res.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers["x-request-id"]).not.toBe(callers);
  });

  it("answers /readyz with 200 when every check passes and 503 with the checks otherwise", async () => {
    const { api, view } = await setup();
    const ok = await api.request("/readyz");
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({
      status: "ready",
      checks: [{ name: "vault", ok: true, detail: "token valid" }],
    });
    view.checks = [
      { name: "vault", ok: true, detail: "token valid" },
      { name: "scan", ok: false, detail: "last scan 900 s ago" },
    ];
    const bad = await api.request("/readyz");
    expect(bad.statusCode).toBe(503);
    expect(bad.json()).toEqual({ status: "not_ready", checks: view.checks });
  });

  it("answers /readyz with 503 when the checks themselves throw, without the error text", async () => {
    const { api, view } = await setup();
    view.fail("readiness", new Error("test-secret-canary-readiness"));
    const res = await api.request("/readyz");
    expect(res.statusCode).toBe(503);
    expect(res.body).not.toContain("canary");
  });

  it("serves /metrics with the view's content type", async () => {
    const { api, view } = await setup();
    const res = await api.request("/metrics");
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(res.body).toBe(view.metricsText);
  });
});

describe("GET /v1/credentials", () => {
  it("lists the last scan as snake_case JSON", async () => {
    const { api } = await setup();
    const res = await api.request("/v1/credentials");
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.scanned_at).toBe("2026-05-01T12:00:00.000Z");
    expect(body.credentials.map((c: { path: string }) => c.path)).toEqual([PROD, "api-credentials/acme/dev"]);
    expect(body.credentials[0]).toMatchObject({
      state: "ok",
      consumers: ["billing"],
      rotation_contact: "team-a@example.com",
    });
  });

  it("filters by state and refuses an unknown state with 400", async () => {
    const { api } = await setup();
    const res = await api.request("/v1/credentials?state=overdue");
    expect(res.json().credentials.map((c: { path: string }) => c.path)).toEqual(["api-credentials/acme/dev"]);
    const bad = await api.request("/v1/credentials?state=bogus");
    expect(bad.statusCode).toBe(400);
    expect(errorOf(bad).code).toBe("BAD_REQUEST");
    const repeated = await api.request("/v1/credentials?state=ok&state=overdue");
    expect(repeated.statusCode).toBe(400);
  });

  it("answers 503 NOT_READY before the first scan", async () => {
    const { api, view } = await setup();
    view.snapshot = undefined;
    const res = await api.request("/v1/credentials");
    expect(res.statusCode).toBe(503);
    expect(errorOf(res).code).toBe("NOT_READY");
  });
});

describe("GET /v1/credentials/{path}", () => {
  it("returns one credential whose path has slashes", async () => {
    const { api } = await setup();
    const res = await api.request(`/v1/credentials/${PROD}`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ path: PROD, state: "ok" });
  });

  it("answers 404 for a path with no credential", async () => {
    const { api } = await setup();
    const res = await api.request("/v1/credentials/api-credentials/nope");
    expect(res.statusCode).toBe(404);
    expect(errorOf(res).code).toBe("NOT_FOUND");
  });

  it.each([
    // A literal "/../" is refused over a raw socket below; an encoded slash reaches the route as "..".
    ["a .. segment", "/v1/credentials/api-credentials%2F..%2Fx"],
    ["a . segment", "/v1/credentials/api-credentials%2F.%2Fx"],
    ["an empty segment", "/v1/credentials/api-credentials//x"],
    ["an empty path", "/v1/credentials/"],
    ["a control character", "/v1/credentials/a%00b"],
    ["a bidi override", "/v1/credentials/a%E2%80%AEb"],
    ["more than 512 characters", `/v1/credentials/${"a".repeat(513)}`],
    ["a broken percent escape", "/v1/credentials/%E0%A4%A"],
  ])("refuses %s with 400 without reading the view", async (_name, url) => {
    const { api, view } = await setup();
    view.fail("credential", new Error("must not be called"));
    const res = await api.request(url);
    expect(res.statusCode).toBe(400);
    expect(errorOf(res).code).toBe("BAD_REQUEST");
  });

  it("hides a thrown error's message behind 500 INTERNAL and logs only its class", async () => {
    const { api, view, log } = await setup();
    const canary = "test-secret-canary-thrown-5d1e";
    view.fail("credential", new Error(`upstream said ${canary}`));
    const res = await api.request(`/v1/credentials/${PROD}`);
    expect(res.statusCode).toBe(500);
    expect(errorOf(res)).toEqual({
      code: "INTERNAL",
      message: "internal error",
      requestId: res.headers["x-request-id"],
    });
    expect(res.body).not.toContain(canary);
    expect(JSON.stringify(log)).not.toContain(canary);
    expect(log.at(-1)).toMatchObject({ status: 500, error: "UNCLASSIFIED", route: "/v1/credentials/*" });
  });

  it("answers 503 UNAVAILABLE for a retryable upstream error, still without its message", async () => {
    const { api, view } = await setup();
    view.fail(
      "credential",
      new RotatorError("VAULT_UNAVAILABLE", "test-secret-canary-vault-down", { retryable: true }),
    );
    const res = await api.request(`/v1/credentials/${PROD}`);
    expect(res.statusCode).toBe(503);
    expect(errorOf(res).code).toBe("UNAVAILABLE");
    expect(res.body).not.toContain("canary");
  });
});

describe("POST /v1/credentials/{path}/rotate", () => {
  it("accepts a valid request with 202, a status URL and the token's name as actor", async () => {
    const { api, view } = await setup();
    const res = await rotate(api, { mode: "emergency", reason: "leaked in a ticket" });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({
      rotation_id: "00000000-0000-4000-8000-000000000001",
      status_url: "/v1/rotations/00000000-0000-4000-8000-000000000001",
    });
    expect(view.rotationRequests).toEqual([
      { path: PROD, request: { mode: "emergency", reason: "leaked in a ticket", actor: "http:ci" } },
    ]);
  });

  it("names the second token's owner when the second token is used, and passes no reason when none is given", async () => {
    const { api, view } = await setup();
    const res = await rotate(api, { mode: "now" }, { authorization: `bearer ${OTHER_TOKEN}`, ...JSON_CT });
    expect(res.statusCode).toBe(202);
    expect(view.rotationRequests[0]?.request).toEqual({ mode: "now", reason: undefined, actor: "http:ops" });
  });

  it("answers 401 with WWW-Authenticate when the token is missing", async () => {
    const { api, view } = await setup();
    const res = await rotate(api, { mode: "now" }, JSON_CT);
    expect(res.statusCode).toBe(401);
    expect(res.headers["www-authenticate"]).toBe("Bearer");
    expect(errorOf(res).code).toBe("UNAUTHORIZED");
    expect(view.rotationRequests).toEqual([]);
  });

  it.each([
    ["a wrong token", `Bearer ${TOKEN}x`],
    ["a prefix of the token", `Bearer ${TOKEN.slice(0, 10)}`],
    ["another scheme", `Basic ${Buffer.from(`u:${TOKEN}`).toString("base64")}`],
    ["an empty bearer", "Bearer "],
  ])("answers 401 for %s and never echoes it", async (_name, authorization) => {
    const { api, view, log } = await setup();
    const res = await rotate(api, { mode: "now" }, { authorization, ...JSON_CT });
    expect(res.statusCode).toBe(401);
    expect(res.headers["www-authenticate"]).toMatch(/^Bearer/);
    expect(res.body).not.toContain("canary");
    expect(JSON.stringify(log)).not.toContain("canary");
    expect(view.rotationRequests).toEqual([]);
  });

  it("checks the token before the body: an unauthenticated bad body still gets 401", async () => {
    const { api } = await setup();
    const res = await rotate(api, "{not json", JSON_CT);
    expect(res.statusCode).toBe(401);
  });

  it("answers 403 when no API token is configured, whatever the request carries", async () => {
    const { api, view } = await setup({ tokens: [] });
    const res = await rotate(api, { mode: "now" });
    expect(res.statusCode).toBe(403);
    expect(errorOf(res)).toMatchObject({
      code: "FORBIDDEN",
      message: "writes are disabled: configure server.api_tokens",
    });
    expect(view.rotationRequests).toEqual([]);
  });

  it("answers 503 when the token source cannot be read", async () => {
    const { api } = await setup({
      deps: { apiTokens: async () => Promise.reject(new Error("test-secret-canary-vault")) },
    });
    const res = await rotate(api, { mode: "now" });
    expect(res.statusCode).toBe(503);
    expect(res.body).not.toContain("canary");
  });

  it.each([
    ["malformed JSON", '{"mode":', "request body is not valid JSON"],
    ["an unknown key", JSON.stringify({ mode: "now", force: true }), "unknown key"],
    ["a bad mode", JSON.stringify({ mode: "later" }), 'mode must be "now" or "emergency"'],
    ["a missing mode", JSON.stringify({ reason: "x" }), "mode must be"],
    [
      "a reason over 200 characters",
      JSON.stringify({ mode: "now", reason: "r".repeat(201) }),
      "reason must be",
    ],
    [
      "a reason with control characters",
      JSON.stringify({ mode: "now", reason: "a\u001b[31mb" }),
      "reason must be",
    ],
    ["a JSON array", "[]", "body must be a JSON object"],
    ["an empty body", "", "request body is empty"],
    ["a prototype-poisoning key", '{"mode":"now","__proto__":{"x":1}}', ""],
  ])("answers 400 for %s", async (_name, payload, message) => {
    const { api, view } = await setup();
    const res = await rotate(api, payload);
    expect(res.statusCode).toBe(400);
    expect(errorOf(res).code).toBe("BAD_REQUEST");
    expect(errorOf(res).message).toContain(message);
    expect(view.rotationRequests).toEqual([]);
  });

  it("does not echo the rejected input in the 400 message", async () => {
    const { api } = await setup();
    const res = await rotate(
      api,
      JSON.stringify({ mode: "test-secret-canary-mode", "test-secret-canary-key": 1 }),
    );
    expect(res.statusCode).toBe(400);
    expect(res.body).not.toContain("canary");
  });

  it("answers 413 for a body over the limit", async () => {
    const { api } = await setup();
    const res = await rotate(api, JSON.stringify({ mode: "now", reason: "x".repeat(20_000) }));
    expect(res.statusCode).toBe(413);
    expect(errorOf(res).code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("answers 415 for a body that is not JSON", async () => {
    const { api } = await setup();
    for (const type of ["text/plain", "application/x-www-form-urlencoded"]) {
      const res = await rotate(api, "mode=now", { ...AUTH, "content-type": type });
      expect(res.statusCode).toBe(415);
      expect(errorOf(res).code).toBe("UNSUPPORTED_MEDIA_TYPE");
    }
  });

  it.each([
    [
      { status: "conflict", rotationId: "rot-1", message: "a rotation is already running (rot-1)" },
      409,
      "CONFLICT",
    ],
    [{ status: "not_found" }, 404, "NOT_FOUND"],
    [{ status: "not_rotatable", message: "unmanaged: no provider key" }, 422, "NOT_ROTATABLE"],
    [{ status: "unavailable", message: "shutting down" }, 503, "UNAVAILABLE"],
  ] as const)("maps the view's %o to %i %s", async (result, status, code) => {
    const { api, view } = await setup();
    view.rotationResult = () => result;
    const res = await rotate(api, { mode: "now" });
    expect(res.statusCode).toBe(status);
    expect(errorOf(res).code).toBe(code);
    if ("message" in result) expect(errorOf(res).message).toBe(result.message);
    if (result.status === "conflict") expect(res.json().error.rotationId).toBe("rot-1");
  });

  it("refuses an invalid credential path with 400", async () => {
    const { api } = await setup();
    const res = await api.request({
      method: "POST",
      url: "/v1/credentials/a%2F..%2Fb/rotate",
      headers: { ...AUTH, ...JSON_CT },
      payload: '{"mode":"now"}',
    });
    expect(res.statusCode).toBe(400);
  });

  it("answers 405 with Allow for a POST that is not a rotate request", async () => {
    const { api } = await setup();
    const res = await api.request({
      method: "POST",
      url: `/v1/credentials/${PROD}`,
      headers: AUTH,
      payload: {},
    });
    expect(res.statusCode).toBe(405);
    expect(res.headers["allow"]).toBe("GET, HEAD");
    expect(errorOf(res).code).toBe("METHOD_NOT_ALLOWED");
  });
});

describe("GET /v1/rotations/{id}", () => {
  it("returns the rotation as snake_case JSON", async () => {
    const { api, view } = await setup();
    view.rotations = [
      rotationView({
        rotationId: "rot-7",
        status: "waiting",
        step: "soak",
        trigger: "http",
        actor: "http:ci",
        waitingUntil: new Date("2026-05-01T13:00:00Z"),
        waitingFor: "soak",
      }),
    ];
    const res = await api.request("/v1/rotations/rot-7");
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      rotation_id: "rot-7",
      path: PROD,
      mode: "standard",
      status: "waiting",
      step: "soak",
      trigger: "http",
      actor: "http:ci",
      requested_at: "2026-05-01T11:00:00.000Z",
      finished_at: null,
      waiting_until: "2026-05-01T13:00:00.000Z",
      waiting_for: "soak",
      joined_rotation_id: null,
      error_code: null,
      message: null,
    });
  });

  it("answers 404 for an unknown id and 400 for an id that is not id-like", async () => {
    const { api } = await setup();
    expect((await api.request("/v1/rotations/nope")).statusCode).toBe(404);
    const bad = await api.request(`/v1/rotations/${"x".repeat(200)}`);
    expect(bad.statusCode).toBe(400);
  });
});

describe("GET /", () => {
  it("serves the status page as HTML under the strict CSP, waiting before the first scan", async () => {
    const { api, view } = await setup();
    const res = await api.request("/");
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(res.headers["content-security-policy"]).toMatch(/^default-src 'none'; style-src 'sha256-/);
    expect(res.body).toContain("api-credentials/<wbr>acme/<wbr>dev");
    view.snapshot = undefined;
    expect((await api.request("/")).body).toContain("Waiting for the first scan");
    expect((await api.request("/favicon.ico")).statusCode).toBe(204);
  });
});

describe("routing and errors", () => {
  it("answers 404 NOT_FOUND in the error shape for an unknown path, with the request id", async () => {
    const { api } = await setup();
    const res = await api.request("/v2/nothing");
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({
      error: { code: "NOT_FOUND", message: "no such route", requestId: res.headers["x-request-id"] },
    });
    expect(res.headers["cache-control"]).toBe("no-store");
  });

  it.each([
    ["DELETE", "/healthz", "GET, HEAD"],
    ["POST", "/v1/credentials", "GET, HEAD"],
    ["PUT", `/v1/credentials/${PROD}/rotate`, "GET, POST, HEAD"],
    ["DELETE", `/v1/credentials/${PROD}`, "GET, HEAD"],
    ["POST", "/v1/rotations/rot-1", "GET, HEAD"],
    ["POST", "/", "GET, HEAD"],
  ] as const)("answers 405 with Allow for %s %s", async (method, url, allow) => {
    const { api } = await setup();
    const res = await api.request({ method, url });
    expect(res.statusCode).toBe(405);
    expect(res.headers["allow"]).toBe(allow);
    expect(errorOf(res).code).toBe("METHOD_NOT_ALLOWED");
  });

  it("logs one access record per request with the route pattern, never the raw path or a header", async () => {
    const { api, log } = await setup();
    await rotate(api, { mode: "now" });
    await api.request("/v2/nothing");
    expect(log).toHaveLength(2);
    expect(log[0]).toMatchObject({
      msg: "http request",
      method: "POST",
      route: "/v1/credentials/*",
      status: 202,
    });
    expect(log[0]?.ms).toBeGreaterThanOrEqual(0);
    expect(log[1]).toMatchObject({ route: null, status: 404 });
    const text = JSON.stringify(log);
    expect(text).not.toContain("acme");
    expect(text).not.toContain(TOKEN);
  });
});

describe("the HTTP layer on node:http", () => {
  it("answers HEAD like GET without the body, OPTIONS with 405, and a method no route knows with 404", async () => {
    const { api } = await setup();
    const get = await api.request("/v1/credentials");
    const head = await api.request({ method: "HEAD", url: "/v1/credentials" });
    expect(head.statusCode).toBe(200);
    expect(head.body).toBe("");
    expect(head.headers["content-length"]).toBe(String(Buffer.byteLength(get.body)));
    expect(head.headers["content-type"]).toBe("application/json; charset=utf-8");
    const options = await api.request({ method: "OPTIONS", url: "/healthz" });
    expect(options.statusCode).toBe(405);
    expect(options.headers["allow"]).toBe("GET, HEAD");
    const trace = await api.request({ method: "TRACE", url: "/healthz" });
    expect(trace.statusCode).toBe(404);
    expect(errorOf(trace).code).toBe("NOT_FOUND");
  });

  it("matches paths exactly after decoding: no trailing slash, escapes decoded, an absolute target's path", async () => {
    const { api } = await setup();
    expect((await api.request("/healthz/")).statusCode).toBe(404);
    expect((await api.request("/HEALTHZ")).statusCode).toBe(404);
    expect((await api.request("/heal%74hz")).statusCode).toBe(200);
    expect((await api.request("/healthz?x=%zz#frag")).statusCode).toBe(200);
    expect((await api.request("http://127.0.0.1/healthz")).statusCode).toBe(200);
    // An encoded slash stays inside the one parameter; %25 decodes once.
    const slash = await api.request("/v1/rotations/a%2Fb");
    expect(slash.statusCode).toBe(400);
    expect(errorOf(slash).message).toBe("rotation id is not valid");
    expect((await api.request(`/v1/credentials/${PROD.replaceAll("/", "%2F")}`)).json()).toMatchObject({
      path: PROD,
    });
    expect((await api.request("/v1/credentials/a%252Fb")).statusCode).toBe(404);
  });

  it("answers a broken percent escape with 400 in the error shape, with the security headers", async () => {
    const { api, view, log } = await setup();
    view.fail("credential", new Error("must not be called"));
    for (const url of ["/v1/credentials/%E0%A4%A", "/healthz%", "/no/such/%zz"]) {
      const res = await api.request(url);
      expect(res.statusCode, url).toBe(400);
      expect(errorOf(res)).toEqual({
        code: "BAD_REQUEST",
        message: "request URL is not valid",
        requestId: res.headers["x-request-id"],
      });
      expect(res.headers["cache-control"]).toBe("no-store");
    }
    expect(log.map((r) => r.route)).toEqual([null, null, null]);
  });

  it("reads a JSON body whatever the case or parameters of its type, and in chunks", async () => {
    const { api, view } = await setup();
    for (const type of ["application/json; charset=utf-8", "Application/JSON"]) {
      const res = await rotate(api, { mode: "now" }, { ...AUTH, "content-type": type });
      expect(res.statusCode, type).toBe(202);
    }
    const chunked = await rawExchange(
      api.url,
      `POST /v1/credentials/${PROD}/rotate HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n` +
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
        'e\r\n{"mode":"now"}\r\n0\r\n\r\n',
    );
    expect(chunked).toMatch(/^HTTP\/1\.1 202 /);
    expect(view.rotationRequests).toHaveLength(3);
  });

  it("refuses a body without a content type with 415, and takes a POST with no body at all to the body check", async () => {
    const { api, view } = await setup();
    const untyped = await rotate(api, '{"mode":"now"}', AUTH);
    expect(untyped.statusCode).toBe(415);
    expect(errorOf(untyped).message).toBe("request body must be application/json");
    const none = await rotate(api, "", AUTH);
    expect(none.statusCode).toBe(400);
    expect(errorOf(none).message).toBe('body must be a JSON object like {"mode":"now"}');
    expect(view.rotationRequests).toEqual([]);
  });

  it("refuses a JSON key that could reach a prototype as invalid JSON", async () => {
    const { api } = await setup();
    for (const payload of [
      '{"mode":"now","__proto__":{"x":1}}',
      '{"mode":"now","constructor":{"prototype":{}}}',
    ]) {
      const res = await rotate(api, payload);
      expect(res.statusCode).toBe(400);
      expect(errorOf(res).message).toBe("request body is not valid JSON");
    }
    expect(({} as Record<string, unknown>)["x"]).toBeUndefined();
  });

  it("answers 413 from the declared length without reading the body, and 413 for a chunked body over 16 KiB", async () => {
    const { api, view, log } = await setup();
    const head = `POST /v1/credentials/${PROD}/rotate HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\n`;
    // Declares a megabyte and sends none of it: the answer cannot have waited for the body.
    const declared = await rawExchange(api.url, `${head}Content-Length: 1048576\r\n\r\n`);
    expect(declared).toMatch(/^HTTP\/1\.1 413 /);
    expect(declared).toMatch(/\r\nconnection: close\r\n/i);
    expect(declared).toContain('"code":"PAYLOAD_TOO_LARGE"');
    const big = "x".repeat(17 * 1024);
    const chunked = await rawExchange(
      api.url,
      `${head}Transfer-Encoding: chunked\r\n\r\n${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`,
    );
    expect(chunked).toMatch(/^HTTP\/1\.1 413 /);
    // Exactly at the limit is fine as far as size goes (the body is then judged on its content).
    const atLimit = JSON.stringify({ mode: "now", reason: "r".repeat(16 * 1024 - 26) });
    expect(Buffer.byteLength(atLimit)).toBe(16 * 1024);
    const res = await rotate(api, atLimit);
    expect(res.statusCode).toBe(400);
    expect(errorOf(res).message).toContain("reason must be");
    expect(view.rotationRequests).toEqual([]);
    expect(log.map((r) => r.status)).toEqual([413, 413, 400]);
  });

  it("answers a request that cannot be parsed with 400 in the error shape, and closes the connection", async () => {
    const { api } = await setup();
    const res = await rawExchange(api.url, "BLAH\r\n\r\n");
    expect(res).toMatch(/^HTTP\/1\.1 400 /);
    expect(res).toContain('"code":"BAD_REQUEST"');
    expect(res).toMatch(/\r\nx-content-type-options: nosniff\r\n/);
  });

  it("cuts off a client that sends its headers too slowly (slow loris) with 408", async () => {
    const { api, view } = await setup({ requestTimeoutMs: 300 });
    const socket = connect(Number(new URL(api.url).port), "127.0.0.1");
    let received = "";
    socket.on("data", (chunk) => {
      received += chunk.toString("latin1");
    });
    const ended = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    socket.write(`POST /v1/credentials/${PROD}/rotate HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
    const t0 = performance.now();
    const drip = setInterval(() => socket.write("X-Drip: 1\r\n"), 50);
    await ended;
    clearInterval(drip);
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    expect(received).toContain("the request did not arrive in time");
    expect(view.rotationRequests).toEqual([]);
  });

  it("answers 503 with Connection: close to a request that arrives while the server closes, and finishes the one under way", async () => {
    const { api, view } = await setup();
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    view.readiness = async () => {
      await gate;
      return view.checks;
    };
    const underWay = api.request("/readyz");
    // A second connection that has sent half its request: not idle, so close() leaves it open.
    const late = connect(Number(new URL(api.url).port), "127.0.0.1");
    let lateAnswer = "";
    late.on("data", (chunk) => {
      lateAnswer += chunk.toString("latin1");
    });
    const lateClosed = new Promise<void>((resolve) => late.on("close", () => resolve()));
    late.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    await new Promise((resolve) => setTimeout(resolve, 100));
    const closed = api.close();
    late.write("\r\n");
    await lateClosed;
    expect(lateAnswer).toMatch(/^HTTP\/1\.1 503 /);
    expect(lateAnswer).toMatch(/\r\nconnection: close\r\n/i);
    expect(lateAnswer).toContain('"code":"UNAVAILABLE"');
    release();
    const done = await underWay;
    expect(done.statusCode).toBe(200);
    expect(done.headers["connection"]).toBe("close");
    await closed;
    await expect(api.request("/healthz")).rejects.toThrow();
  });
});

describe("startHttpServer", () => {
  it("serves a rotate request over a real socket and closes", async () => {
    const view = new FakeDaemonView();
    view.setItems([inventoryItem(PROD, "ok")]);
    const server = await startHttpServer(
      {
        view,
        apiTokens: async () => [{ name: "ci", token: SecretValue.of(TOKEN) }],
        version: "9.9.9",
        kvMount: "secret",
      },
      { host: "127.0.0.1", port: 0 },
    );
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await undiciRequest(`${server.url}/v1/credentials/${PROD}/rotate`, {
        method: "POST",
        headers: { ...AUTH, ...JSON_CT },
        body: JSON.stringify({ mode: "now", reason: "over the wire" }),
      });
      expect(res.statusCode).toBe(202);
      expect(res.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
      expect(await res.body.json()).toMatchObject({
        status_url: expect.stringMatching(/^\/v1\/rotations\//),
      });
      expect(view.rotationRequests[0]?.request.actor).toBe("http:ci");
      const missing = await undiciRequest(`${server.url}/v1/credentials/${PROD}/rotate`, {
        method: "POST",
        headers: JSON_CT,
        body: "{}",
      });
      expect(missing.statusCode).toBe(401);
      await missing.body.dump();
      // Clients normalise "/../" away; a raw request shows the server itself refuses the segment.
      const dotdot = await rawGet(server.url, `/v1/credentials/api-credentials/../${PROD}`);
      expect(dotdot).toMatch(/^HTTP\/1\.1 400 /);
    } finally {
      await server.close();
    }
    await expect(undiciRequest(`${server.url}/healthz`)).rejects.toThrow();
  });
});

/** Sends `text` over a bare socket and resolves with everything the server sent before closing. */
function rawExchange(baseUrl: string, text: string): Promise<string> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let received = "";
    socket.on("data", (chunk) => {
      received += chunk.toString("latin1");
    });
    socket.on("close", () => resolve(received));
    socket.on("error", (err) => (received === "" ? reject(err) : resolve(received)));
    socket.write(text);
  });
}

/** One GET over a bare socket, the path sent byte for byte; resolves with the status line. */
function rawGet(baseUrl: string, path: string): Promise<string> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let received = "";
    socket.on("data", (chunk) => {
      received += chunk.toString("latin1");
    });
    socket.on("end", () => resolve(received.split("\r\n")[0] ?? ""));
    socket.on("error", reject);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`);
  });
}
