// The logger's second line of defence: whatever object a log line passes by mistake, the usual secret-bearing
// keys (snake_case and camelCase, and credential headers) are censored at the top level and nested.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/daemon/logger.ts";

const CANARY = "test-secret-canary-logger-5c0e";

const SECRET_KEYS = [
  "token",
  "secret",
  "url",
  "password",
  "authorization",
  "client_secret",
  "clientSecret",
  "consumer_secret",
  "consumerSecret",
  "client_token",
  "clientToken",
  "secret_id",
  "secretId",
  "x-vault-token",
  "api_key",
  "apiKey",
  "previous_key",
  "pending_api_key",
  "pendingApiKey",
  "new_secret",
  "newSecret",
  "current_secret",
  "currentSecret",
  "previous_secret",
  "previousSecret",
  "access_token",
  "accessToken",
  "refresh_token",
  "private_key",
];

const SECRET_HEADERS = ["authorization", "x-vault-token", "proxy-authorization", "cookie", "x-api-key"];

/** Logs `obj` at info into memory and returns the one line written. */
function logLine(obj: Record<string, unknown>): string {
  const lines: string[] = [];
  const log = createLogger("info", { write: (s: string) => void lines.push(s) });
  log.info(obj, "leak test");
  expect(lines).toHaveLength(1);
  return lines[0] ?? "";
}

function at(value: unknown, path: readonly string[]): unknown {
  let v = value;
  for (const p of path) v = (v as Record<string, unknown>)[p];
  return v;
}

/** `{ [path[0]]: { ... { [path.at(-1)]: CANARY } } }` */
function nest(path: readonly string[]): Record<string, unknown> {
  let v: unknown = CANARY;
  for (const p of [...path].reverse()) v = { [p]: v };
  return v as Record<string, unknown>;
}

function expectRedacted(path: readonly string[]): void {
  const line = logLine(nest(path));
  expect(line, path.join(".")).not.toContain(CANARY);
  expect(at(JSON.parse(line), path), path.join(".")).toBe("[redacted]");
}

describe("createLogger redaction", () => {
  it.each(SECRET_KEYS)("censors %s at the top level and one and two levels down", (key) => {
    expectRedacted([key]);
    expectRedacted(["entry", key]);
    expectRedacted(["result", "data", key]);
  });

  it.each(SECRET_HEADERS)("censors the %s header in headers objects up to three levels down", (header) => {
    expectRedacted(["headers", header]);
    expectRedacted(["req", "headers", header]);
    expectRedacted(["err", "response", "headers", header]);
  });

  it("keeps the words of a line that carries no secret", () => {
    const line = JSON.parse(
      logLine({ path: "team-a/crm", code: "VAULT_CAS_CONFLICT", headers: { host: "x" } }),
    );
    expect(line).toMatchObject({ path: "team-a/crm", code: "VAULT_CAS_CONFLICT", headers: { host: "x" } });
  });
});

describe("createLogger redaction at any depth", () => {
  it("censors secret keys however deep they are nested, in arrays and in child bindings", () => {
    const lines: string[] = [];
    const log = createLogger("info", { write: (s: string) => void lines.push(s) });
    const child = log.child({ job: "x", auth: { clientSecret: CANARY } });
    child.info({ a: { b: { c: { d: { token: CANARY, ok: 1 } } } }, list: [{ apiKey: CANARY }] }, "deep");
    log.info(
      { req: { res: { more: { headers: { "x-vault-token": CANARY, "set-cookie": [CANARY] } } } } },
      "h",
    );
    expect(lines.join("")).not.toContain(CANARY);
    const [deep, headers] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(deep).toMatchObject({
      job: "x",
      auth: { clientSecret: "[redacted]" },
      a: { b: { c: { d: { token: "[redacted]", ok: 1 } } } },
      list: [{ apiKey: "[redacted]" }],
    });
    expect(at(headers, ["req", "res", "more", "headers", "set-cookie"])).toBe("[redacted]");
  });

  it("prints an Error's name and code but not its message, which may quote a URL", () => {
    const err = Object.assign(new Error(`GET https://x/?token=${CANARY}`), { code: "ECONNRESET" });
    const line = logLine({ cause: err });
    expect(line).not.toContain(CANARY);
    expect(JSON.parse(line)).toMatchObject({ cause: { type: "Error", code: "ECONNRESET" } });
  });
});

describe("createLogger lines", () => {
  it("writes level, ISO time, service, bindings, fields and msg as one JSON line", () => {
    const lines: string[] = [];
    const log = createLogger("debug", { write: (s: string) => void lines.push(s) });
    log
      .child({ rotationId: "r1", path: "team-a/crm" })
      .warn({ code: "VAULT_CAS_CONFLICT", n: 2n }, 'a "quoted"\nmsg');
    log.info("only a message");
    log.debug({}, "empty fields");
    expect(lines.every((l) => l.endsWith("}\n") && !l.slice(0, -1).includes("\n"))).toBe(true);
    const [first, second, third] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(first).toEqual({
      level: "warn",
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      service: "eca-rotator",
      rotationId: "r1",
      path: "team-a/crm",
      code: "VAULT_CAS_CONFLICT",
      n: "2",
      msg: 'a "quoted"\nmsg',
    });
    expect(second).toMatchObject({ level: "info", msg: "only a message" });
    expect(third).toMatchObject({ level: "debug", msg: "empty fields" });
  });

  it("writes only lines at or above its level", () => {
    const seen = (level: string) => {
      const lines: string[] = [];
      const log = createLogger(level, { write: (s: string) => void lines.push(s) });
      for (const name of ["trace", "debug", "info", "warn", "error", "fatal"] as const) log[name]({}, name);
      log.child({ x: 1 }).debug({}, "child debug");
      return lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
    };
    expect(seen("warn")).toEqual(["warn", "error", "fatal"]);
    expect(seen("trace")).toEqual(["trace", "debug", "info", "warn", "error", "fatal", "child debug"]);
    expect(seen("silent")).toEqual([]);
    expect(() => createLogger("verbose", { write: () => {} })).toThrow(/unknown log level/);
  });

  it("logs the message of an object it cannot serialise (a cycle) instead of throwing", () => {
    const cyclic: Record<string, unknown> = { path: "a" };
    cyclic["self"] = cyclic;
    expect(JSON.parse(logLine({ cyclic }))).toMatchObject({
      logFields: "[unserializable]",
      msg: "leak test",
    });
  });

  it("loses no line when the process exits or crashes right after logging to a pipe", async () => {
    const logger = path.resolve(import.meta.dirname, "../../src/daemon/logger.ts");
    const script = `
      const { createLogger, STDOUT } = await import(${JSON.stringify(logger)});
      // Touching process.stdout puts the pipe in non-blocking mode, as in the daemon.
      process.stdout.write("");
      const log = createLogger("info", STDOUT);
      for (let i = 0; i < 2000; i++) log.info({ i, pad: "x".repeat(200) }, "line");
      if (process.argv[1] === "exit") process.exit(3);
      throw new Error("crash");`;
    for (const how of ["exit", "crash"]) {
      const child = spawnSync(process.execPath, ["--input-type=module", "-e", script, how], {
        encoding: "utf8",
        maxBuffer: 2 ** 26,
      });
      expect(child.status, child.stderr).toBe(how === "exit" ? 3 : 1);
      const lines = child.stdout.split("\n").filter((l) => l !== "");
      expect(lines, how).toHaveLength(2000);
      expect(JSON.parse(lines.at(-1) ?? "")).toMatchObject({ i: 1999, msg: "line" });
    }
  });
});
