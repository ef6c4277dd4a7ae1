// The logger's second line of defence: whatever object a log line passes by mistake, the usual secret-bearing
// keys (snake_case and camelCase, and credential headers) are censored at the top level and nested.
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
