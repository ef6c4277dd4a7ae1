// The daemon's HTTP tokens and 401 summary: token files on disk resolved by the real resolver, re-read as the
// daemon re-reads them, and the real JSON logger. The attacker here is whoever can shorten a token file (a bad
// rotation script, a careless edit): a short token must never be accepted, and must never open anything.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { SecretRef } from "../../src/config/config-types.ts";
import { RotatorError } from "../../src/core/errors.ts";
import { createTokenSource, type NamedTokenRef, UnauthorizedSummary } from "../../src/daemon/http-auth.ts";
import { createLogger } from "../../src/daemon/logger.ts";
import { resolveSecretRef } from "../../src/daemon/secret-refs.ts";

const LONG_A = "test-secret-canary-http-auth-token-a-0123456789";
const LONG_B = "test-secret-canary-http-auth-token-b-0123456789";
const SHORT = "test-secret-canary-short-b";

function world() {
  const dir = mkdtempSync(path.join(tmpdir(), "eca-http-auth-"));
  const lines: string[] = [];
  const log = createLogger("info", { write: (line: string) => void lines.push(line) });
  const file = (name: string, value: string) => {
    writeFileSync(path.join(dir, name), `${value}\n`);
    return path.join(dir, name);
  };
  const ref = (name: string, key: string): NamedTokenRef => ({
    name,
    ref: { kind: "file", path: path.join(dir, name), key },
  });
  const resolve = (r: SecretRef) => resolveSecretRef(r, { env: {}, kv: { readData: async () => undefined } });
  const records = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { dir, lines, log, file, ref, resolve, records };
}

describe("createTokenSource", () => {
  it("refuses to start with a short token, naming the key and never the value", async () => {
    const w = world();
    w.file("a", LONG_A);
    w.file("b", SHORT);
    const source = createTokenSource(
      [w.ref("a", "server.read_tokens.a"), w.ref("b", "server.read_tokens.b")],
      {
        resolve: w.resolve,
        log: w.log,
      },
    );
    const err = await source.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RotatorError);
    expect((err as RotatorError).code).toBe("CONFIG_INVALID");
    expect((err as RotatorError).toLine()).toBe(
      "CONFIG_INVALID: server.read_tokens.b: the token is shorter than 32 characters; make a random one with `openssl rand -hex 32`",
    );
    expect(w.lines.join("\n")).not.toContain("canary");
  });

  it("drops a token that a re-read finds short, warns once naming its key, and takes it back once long", async () => {
    const w = world();
    w.file("a", LONG_A);
    w.file("b", LONG_B);
    const source = createTokenSource([w.ref("a", "server.api_tokens.a"), w.ref("b", "server.api_tokens.b")], {
      resolve: w.resolve,
      log: w.log,
      cacheMs: 0,
    });
    await source.start();
    expect((await source.get()).map((t) => t.name)).toEqual(["a", "b"]);

    w.file("b", SHORT);
    expect((await source.get()).map((t) => [t.name, t.token.reveal()])).toEqual([["a", LONG_A]]);
    await source.get();
    const warnings = w.records().filter((r) => r["level"] === "warn");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      key: "server.api_tokens.b",
      msg: expect.stringMatching(
        /^HTTP token refused until replaced: server\.api_tokens\.b: the token is shorter/,
      ),
    });

    // Every token short: an empty list, which the HTTP face treats as "nobody gets in".
    w.file("a", "short");
    expect(await source.get()).toEqual([]);

    w.file("a", LONG_A);
    w.file("b", LONG_B);
    expect((await source.get()).map((t) => t.name)).toEqual(["a", "b"]);
    expect(w.records().filter((r) => r["msg"] === "HTTP token accepted again")).toHaveLength(2);
    for (const secret of [LONG_A, LONG_B, SHORT]) expect(w.lines.join("\n")).not.toContain(secret);
  });

  it("serves the cached list within the cache time and fails a re-read of a missing file", async () => {
    const w = world();
    w.file("a", LONG_A);
    const cached = createTokenSource([w.ref("a", "server.api_tokens.a")], { resolve: w.resolve, log: w.log });
    await cached.start();
    w.file("a", LONG_B);
    expect((await cached.get())[0]?.token.reveal()).toBe(LONG_A);

    const fresh = createTokenSource([w.ref("a", "server.api_tokens.a")], {
      resolve: w.resolve,
      log: w.log,
      cacheMs: 0,
    });
    await fresh.start();
    rmSync(path.join(w.dir, "a"));
    await expect(fresh.get()).rejects.toThrow(
      /^server\.api_tokens\.a: the file .* cannot be read \(ENOENT\)/,
    );
  });
});

describe("UnauthorizedSummary", () => {
  it("logs the first refusal at once, then at most one line per interval with the counts since", async () => {
    const w = world();
    const summary = new UnauthorizedSummary({ log: w.log, intervalMs: 300 });
    summary.record({ access: "read", reason: "missing", client: "127.0.0.1" });
    expect(w.records()).toHaveLength(1);
    expect(w.records()[0]).toMatchObject({
      level: "warn",
      msg: "HTTP requests refused for a missing or wrong token",
      refused: 1,
      missing: 1,
      reads: 1,
      writes: 0,
      clients: ["127.0.0.1"],
    });

    for (let i = 0; i < 50; i++) {
      summary.record({ access: i % 2 === 0 ? "read" : "write", reason: "wrong", client: `10.0.0.${i % 8}` });
    }
    summary.record({ access: "write", reason: "malformed", client: "10.0.0.1" });
    expect(w.records()).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 450));
    expect(w.records()).toHaveLength(2);
    expect(w.records()[1]).toMatchObject({
      refused: 51,
      wrong: 50,
      malformed: 1,
      missing: 0,
      reads: 25,
      writes: 26,
      sinceLastLineMs: expect.any(Number),
    });
    // Bounded: a flood from many addresses names only a few.
    expect(w.records()[1]?.["clients"]).toHaveLength(5);

    // Quiet since: nothing more is logged, and close() has nothing to flush.
    await new Promise((r) => setTimeout(r, 350));
    summary.close();
    expect(w.records()).toHaveLength(2);
  });

  it("flushes what is still counted when closed", () => {
    const w = world();
    const summary = new UnauthorizedSummary({ log: w.log, intervalMs: 60_000 });
    summary.record({ access: "write", reason: "missing", client: "::1" });
    summary.record({ access: "write", reason: "missing", client: "::1" });
    summary.record({ access: "read", reason: "wrong", client: "::1" });
    expect(w.records()).toHaveLength(1);
    summary.close();
    expect(w.records()).toHaveLength(2);
    expect(w.records()[1]).toMatchObject({ refused: 2, missing: 1, wrong: 1, clients: ["::1"] });
  });
});
