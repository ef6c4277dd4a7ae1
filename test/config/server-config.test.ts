// The `server` section's HTTP protections: read tokens (same shape as API tokens), allowed Host names, and the
// minimum token length that start-up and every re-read hold API and read tokens to. Short tokens are canaries:
// no problem line may carry them.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { MIN_HTTP_TOKEN_LENGTH, shortTokenProblem } from "../../src/config/config-schema.ts";
import { summarizeConfig } from "../../src/config/load-config.ts";
import { SecretValue } from "../../src/core/secret-value.ts";
import { resolveSecretRef } from "../../src/daemon/secret-refs.ts";
import { load, problemsOf } from "./config-test-helpers.ts";

const SHORT = "test-secret-canary-short-token"; // 30 characters

describe("server.read_tokens", () => {
  it("reads named read tokens as secret references keyed server.read_tokens.<name>", () => {
    const cfg = load(`
server:
  api_tokens: { ci: { env: ECA_API_TOKEN } }
  read_tokens:
    prometheus: { file: /run/secrets/read-token }
    people: { vault: "eca-rotator/http#read" }
`);
    expect(cfg.server.readTokens).toEqual([
      {
        name: "prometheus",
        ref: { kind: "file", path: "/run/secrets/read-token", key: "server.read_tokens.prometheus" },
      },
      {
        name: "people",
        ref: { kind: "vault", path: "eca-rotator/http", field: "read", key: "server.read_tokens.people" },
      },
    ]);
    expect(cfg.server.apiTokens.map((t) => t.ref.key)).toEqual(["server.api_tokens.ci"]);
  });

  it("refuses an inline read token without repeating it, and a list instead of a mapping", () => {
    const inline = problemsOf(`server: { read_tokens: { prometheus: ${SHORT} } }`);
    expect(inline[0]).toMatch(/^server\.read_tokens\.prometheus: is a secret and is never written inline/);
    expect(inline.join("\n")).not.toContain(SHORT);
    expect(problemsOf(`server: { read_tokens: [a, b] }`)).toEqual([
      "server.read_tokens: must be a mapping of token names to secret references",
    ]);
  });

  it("suggests the right key for a typo", () => {
    expect(problemsOf(`server: { read_token: { p: { env: X } } }`)).toEqual([
      "server.read_token: unknown key (did you mean server.read_tokens?)",
    ]);
    expect(problemsOf(`server: { allowed_host: [a] }`)).toEqual([
      "server.allowed_host: unknown key (did you mean server.allowed_hosts?)",
    ]);
  });
});

describe("server.allowed_hosts", () => {
  it("reads host names in lower case without a final dot", () => {
    const cfg = load(
      `server: { allowed_hosts: [Eca-Rotator.eca-rotator.SVC, "rotator.example.com.", eca_rotator] }`,
    );
    expect(cfg.server.allowedHosts).toEqual([
      "eca-rotator.eca-rotator.svc",
      "rotator.example.com",
      "eca_rotator",
    ]);
  });

  it("names each entry that is not a bare host name, by index, without the value", () => {
    const problems = problemsOf(
      `server: { allowed_hosts: [ok.example, "http://a.example", "a.example:8080", "*.example", "a.example/x", "", "evil canary"] }`,
    );
    const hint = "must be a host name such as eca-rotator.eca-rotator.svc (no scheme, port, path or *)";
    expect(problems).toEqual([1, 2, 3, 4, 5, 6].map((i) => `server.allowed_hosts[${i}]: ${hint}`));
    expect(problems.join("\n")).not.toMatch(/canary|a\.example/);
    expect(problemsOf(`server: { allowed_hosts: eca-rotator.svc }`)).toEqual([
      "server.allowed_hosts: must be a list of host names",
    ]);
  });

  it("shows the names, the token names and whether reads are open in check's summary", () => {
    const open = summarizeConfig(load(`server: { api_tokens: { ci: { env: T } } }`)).split("\n");
    expect(open).toEqual(
      expect.arrayContaining([
        "server.api_tokens: ci (file)",
        "server.read_tokens: none (the GET routes are open)",
        "server.allowed_hosts: not set",
      ]),
    );
    const closed = summarizeConfig(
      load(`server: { read_tokens: { prometheus: { env: R } }, allowed_hosts: [eca-rotator.svc] }`),
    ).split("\n");
    expect(closed).toEqual(
      expect.arrayContaining([
        "server.api_tokens: none (writes are refused)",
        "server.read_tokens: prometheus (file)",
        "server.allowed_hosts: eca-rotator.svc (file)",
      ]),
    );
  });
});

describe("the minimum token length", () => {
  it(`refuses a token shorter than ${MIN_HTTP_TOKEN_LENGTH} characters, naming the key and never the value`, () => {
    expect(MIN_HTTP_TOKEN_LENGTH).toBe(32);
    const problem = shortTokenProblem("server.api_tokens.ci", SecretValue.of("dev-only-api-token"));
    expect(problem).toBe(
      "server.api_tokens.ci: the token is shorter than 32 characters; make a random one with `openssl rand -hex 32`",
    );
    expect(problem).not.toContain("dev-only");
    // Nor its length, which would narrow a guess.
    expect(problem).not.toMatch(/\b18\b/);
    expect(shortTokenProblem("server.read_tokens.p", SecretValue.of("a".repeat(31)))).toMatch(
      /^server\.read_tokens\.p: the token is shorter than 32/,
    );
    expect(shortTokenProblem("server.read_tokens.p", SecretValue.of("a".repeat(32)))).toBeUndefined();
  });

  it("applies to the value a real token file resolves to (trimmed), keyed as the config names it", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "eca-server-cfg-"));
    writeFileSync(path.join(dir, "short"), `${SHORT}\n\n`);
    writeFileSync(path.join(dir, "long"), `${"f".repeat(64)}\n`);
    const cfg = load(`
server:
  api_tokens: { ci: { file: ${path.join(dir, "long")} } }
  read_tokens: { prometheus: { file: ${path.join(dir, "short")} } }
`);
    const ctx = { env: {}, kv: { readData: async () => undefined } };
    const [api] = cfg.server.apiTokens;
    const [read] = cfg.server.readTokens;
    if (api === undefined || read === undefined) throw new Error("tokens expected");
    expect(shortTokenProblem(api.ref.key, await resolveSecretRef(api.ref, ctx))).toBeUndefined();
    const problem = shortTokenProblem(read.ref.key, await resolveSecretRef(read.ref, ctx));
    expect(problem).toMatch(/^server\.read_tokens\.prometheus: the token is shorter than 32 characters/);
    expect(problem).not.toContain(SHORT);
  });
});
