// The audit chain, unkeyed and keyed (audit.chain_key). The adversary is whoever can write the audit file but
// does not hold the key: they can edit, cut, reorder, rewrite and re-hash lines with every public algorithm.
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import {
  AuditChainKey,
  chainLine,
  GENESIS_PREV,
  sha256Hex,
  tailProblem,
  verifyAuditChain,
} from "../../../src/adapters/audit/jsonl-file-audit-sink.ts";

const KEY_CANARY = "test-secret-canary-chain-key-0123456789abcdef";
const KEY = AuditChainKey.of(KEY_CANARY);
const OTHER_KEY = AuditChainKey.of("test-secret-canary-other-key-0123456789abcdef");

/** A valid chain of `n` lines continuing after `after` (its last line), keyed with `key` when given. */
function chain(n: number, key?: AuditChainKey, after: readonly string[] = [], from = 1): string[] {
  const lines: string[] = [];
  let prev = after.length === 0 ? GENESIS_PREV : sha256Hex(after[after.length - 1] ?? "");
  for (let i = from; i < from + n; i++) {
    const line = chainLine(
      { type: "rotation.started", rotationId: `rot-${i}`, path: "api-credentials/x" },
      prev,
      key,
    );
    lines.push(line);
    prev = sha256Hex(line);
  }
  return lines;
}

/** A line as written before lines named their algorithm: no "alg" member. */
function legacyLine(i: number, prev: string): string {
  const content = JSON.stringify({ type: "rotation.started", rotationId: `old-${i}`, prev });
  return `${content.slice(0, -1)},"hash":"${sha256Hex(content)}"}`;
}

/** What an attacker without the key can do: re-chain `lines` from `start` with plain SHA-256, each line's own body. */
function rehashFrom(lines: readonly string[], start: number, edit: (body: Record<string, unknown>) => void) {
  const out = lines.slice(0, start);
  for (let i = start; i < lines.length; i++) {
    const body = JSON.parse(lines[i] ?? "") as Record<string, unknown>;
    if (i === start) edit(body);
    const { hash: _h, ...rest } = body;
    rest["prev"] = i === 0 ? GENESIS_PREV : sha256Hex(out[i - 1] ?? "");
    // Each line keeps its alg (a keyed line still claims hmac-sha256), hashed with what the attacker can compute.
    const content = JSON.stringify(rest);
    out.push(`${content.slice(0, -1)},"hash":"${sha256Hex(content)}"}`);
  }
  return out;
}

describe("verifyAuditChain", () => {
  it("accepts an intact chain, with or without the empty string after the final newline", () => {
    const unkeyed = { ok: true, count: 5, keyed: 0, authenticated: false };
    expect(verifyAuditChain(chain(5))).toEqual(unkeyed);
    expect(verifyAuditChain(`${chain(5).join("\n")}\n`.split("\n"))).toEqual(unkeyed);
    expect(verifyAuditChain([])).toEqual({ ok: true, count: 0, keyed: 0, authenticated: false });
  });

  it("chains each line to the SHA-256 of the previous line's exact text", () => {
    const [a, b] = chain(2);
    expect(JSON.parse(a ?? "").prev).toBe(GENESIS_PREV);
    expect(JSON.parse(b ?? "").prev).toBe(sha256Hex(a ?? ""));
    const content = (b ?? "").replace(/,"hash":"[0-9a-f]{64}"\}$/, "}");
    expect(JSON.parse(b ?? "").hash).toBe(sha256Hex(content));
  });

  it("catches an edited line", () => {
    const lines = chain(5);
    lines[2] = (lines[2] ?? "").replace("rot-3", "rot-X");
    expect(verifyAuditChain(lines)).toMatchObject({
      ok: false,
      line: 3,
      problem: expect.stringMatching(/edited/),
    });
  });

  it("catches an edited line whose own hash was recomputed, at the next line", () => {
    const lines = chain(5);
    const edited = JSON.parse(lines[2] ?? "");
    lines[2] = chainLine({ ...edited, rotationId: "rot-X" }, edited.prev);
    expect(verifyAuditChain(lines)).toMatchObject({
      ok: false,
      line: 4,
      problem: expect.stringMatching(/prev/),
    });
  });

  it("catches a removed line", () => {
    const lines = chain(5);
    lines.splice(1, 1);
    expect(verifyAuditChain(lines)).toMatchObject({ ok: false, line: 2 });
  });

  it("catches a removed first line", () => {
    expect(verifyAuditChain(chain(5).slice(1))).toMatchObject({
      ok: false,
      line: 1,
      problem: expect.stringMatching(/first line/),
    });
  });

  it("catches swapped lines", () => {
    const lines = chain(5);
    [lines[1], lines[2]] = [lines[2] ?? "", lines[1] ?? ""];
    expect(verifyAuditChain(lines)).toMatchObject({ ok: false, line: 2 });
  });

  it("catches an inserted line, even a copy of a valid one", () => {
    const lines = chain(5);
    lines.splice(3, 0, lines[1] ?? "");
    expect(verifyAuditChain(lines)).toMatchObject({ ok: false, line: 4 });
  });

  it("catches a truncated last line", () => {
    const lines = chain(5);
    lines[4] = (lines[4] ?? "").slice(0, 80);
    expect(verifyAuditChain(lines)).toMatchObject({
      ok: false,
      line: 5,
      problem: expect.stringMatching(/truncated/),
    });
  });

  it("catches an empty line in the middle", () => {
    const lines = chain(3);
    lines.splice(1, 0, "");
    expect(verifyAuditChain(lines)).toMatchObject({ ok: false, line: 2, problem: "empty line" });
  });
});

describe("the keyed chain (audit.chain_key)", () => {
  it("names the algorithm on every line and makes the hash an HMAC-SHA256 of the content under the key", () => {
    const [plain] = chain(1);
    const [keyed] = chain(1, KEY);
    expect(JSON.parse(plain ?? "")).toMatchObject({ alg: "sha256", prev: GENESIS_PREV });
    const body = JSON.parse(keyed ?? "") as Record<string, unknown>;
    expect(body).toMatchObject({ alg: "hmac-sha256", prev: GENESIS_PREV });
    expect(Object.keys(body).slice(-3)).toEqual(["alg", "prev", "hash"]);
    const content = (keyed ?? "").replace(/,"hash":"[0-9a-f]{64}"\}$/, "}");
    expect(body["hash"]).toBe(KEY.mac(content));
    expect(body["hash"]).not.toBe(sha256Hex(content));
    expect(keyed).not.toContain(KEY_CANARY);
  });

  it("authenticates every keyed line with the right key", () => {
    expect(verifyAuditChain(chain(5, KEY), { key: KEY })).toEqual({
      ok: true,
      count: 5,
      keyed: 5,
      authenticated: true,
    });
  });

  it("without the key checks only the links of keyed lines and says they are not authenticated", () => {
    expect(verifyAuditChain(chain(5, KEY))).toEqual({ ok: true, count: 5, keyed: 5, authenticated: false });
  });

  it("fails a wrong key at the first keyed line", () => {
    expect(verifyAuditChain(chain(5, KEY), { key: OTHER_KEY })).toEqual({
      ok: false,
      line: 1,
      problem: "the first keyed line does not match the key (the key is wrong, or the line was edited)",
    });
  });

  it("detects a keyed line edited and re-hashed with anything but the key, with or without the links intact", () => {
    const lines = chain(5, KEY);
    // The attacker re-hashes the edited line and every later one: the links hold, the HMACs do not.
    const rehashed = rehashFrom(lines, 2, (b) => {
      b["rotationId"] = "rot-X";
    });
    expect(verifyAuditChain(rehashed)).toMatchObject({ ok: true, keyed: 5 }); // without the key: looks fine
    expect(verifyAuditChain(rehashed, { key: KEY })).toEqual({
      ok: false,
      line: 3,
      problem: "the line does not match its HMAC under the key (edited)",
    });
    // Re-keyed with a key of the attacker's own: still not the key.
    const own = [...lines.slice(0, 2), ...chain(3, OTHER_KEY, lines.slice(0, 2), 3)];
    expect(verifyAuditChain(own, { key: KEY })).toMatchObject({ ok: false, line: 3 });
  });

  it("detects a downgrade: unkeyed lines after keyed ones, with or without the key", () => {
    const keyed = chain(3, KEY);
    const downgraded = [...keyed, ...chain(2, undefined, keyed, 4)];
    for (const key of [KEY, undefined]) {
      expect(verifyAuditChain(downgraded, { key })).toEqual({
        ok: false,
        line: 4,
        problem:
          "an unkeyed line after keyed lines (the chain was downgraded: written or rewritten without the key)",
      });
    }
    // The attacker re-writes from an edited keyed line on as plain SHA-256 lines: the downgrade shows there.
    const rewritten = [...keyed.slice(0, 1), ...chain(2, undefined, keyed.slice(0, 1), 2)];
    expect(verifyAuditChain(rewritten, { key: KEY })).toMatchObject({ ok: false, line: 2 });
  });

  it("reports a whole file rewritten unkeyed as having no keyed line (the CLI fails it when a key is given)", () => {
    const rewritten = chain(5);
    expect(verifyAuditChain(rewritten, { key: KEY })).toEqual({
      ok: true,
      count: 5,
      keyed: 0,
      authenticated: false,
    });
  });

  it("continues an unkeyed (even pre-alg) file with keyed lines: leading lines predate the key and are pinned", () => {
    const legacy = [legacyLine(1, GENESIS_PREV)];
    legacy.push(legacyLine(2, sha256Hex(legacy[0] ?? "")));
    const unkeyed = [...legacy, ...chain(1, undefined, legacy, 3)];
    const mixed = [...unkeyed, ...chain(4, KEY, unkeyed, 4)];
    expect(verifyAuditChain(mixed, { key: KEY })).toEqual({
      ok: true,
      count: 7,
      keyed: 4,
      authenticated: true,
    });
    // Editing a leading unkeyed line and re-hashing every unkeyed line after it: the first keyed line's prev,
    // which the attacker cannot re-authenticate, no longer matches.
    const edited = [
      ...rehashFrom(unkeyed, 1, (b) => {
        b["rotationId"] = "old-X";
      }),
      ...mixed.slice(3),
    ];
    expect(verifyAuditChain(edited, { key: KEY })).toEqual({
      ok: false,
      line: 4,
      problem: "prev does not match the line before (a line was removed, inserted or reordered)",
    });
  });

  it("catches removed, inserted and reordered keyed lines", () => {
    const lines = chain(6, KEY);
    const removed = lines.filter((_, i) => i !== 2);
    const inserted = [...lines.slice(0, 3), lines[1] ?? "", ...lines.slice(3)];
    const swapped = [...lines];
    [swapped[2], swapped[3]] = [lines[3] ?? "", lines[2] ?? ""];
    expect(verifyAuditChain(removed, { key: KEY })).toMatchObject({ ok: false, line: 3 });
    expect(verifyAuditChain(inserted, { key: KEY })).toMatchObject({ ok: false, line: 4 });
    expect(verifyAuditChain(swapped, { key: KEY })).toMatchObject({ ok: false, line: 3 });
  });

  it("does NOT detect whole lines cut off the end, keyed or not: the documented limit", () => {
    const lines = chain(6, KEY);
    expect(verifyAuditChain(lines.slice(0, 4), { key: KEY })).toEqual({
      ok: true,
      count: 4,
      keyed: 4,
      authenticated: true,
    });
    expect(verifyAuditChain(chain(6).slice(0, 2))).toMatchObject({ ok: true, count: 2 });
  });

  it("refuses an unknown algorithm", () => {
    const content = JSON.stringify({ type: "rotation.started", alg: "md5", prev: GENESIS_PREV });
    expect(verifyAuditChain([`${content.slice(0, -1)},"hash":"${sha256Hex(content)}"}`])).toMatchObject({
      ok: false,
      line: 1,
      problem: "unknown chain algorithm in alg",
    });
  });
});

describe("tailProblem (may a writer continue this last line?)", () => {
  it("lets a keyed writer continue unkeyed lines and its own keyed lines", () => {
    expect(tailProblem(chain(1)[0] ?? "", KEY)).toBeUndefined();
    expect(tailProblem(legacyLine(1, GENESIS_PREV), KEY)).toBeUndefined();
    expect(tailProblem(chain(1, KEY)[0] ?? "", KEY)).toBeUndefined();
  });

  it("stops a writer without a key on a keyed file, and a writer with another key", () => {
    expect(tailProblem(chain(1, KEY)[0] ?? "", undefined)).toMatch(/keyed .* no audit.chain_key/);
    expect(tailProblem(chain(1, KEY)[0] ?? "", OTHER_KEY)).toMatch(/does not match audit.chain_key/);
  });
});

describe("AuditChainKey", () => {
  it("refuses fewer than 32 bytes and never shows the key", () => {
    expect(() => AuditChainKey.of("x".repeat(31))).toThrow(RangeError);
    expect(() => AuditChainKey.of("x".repeat(32))).not.toThrow();
    const shown = [String(KEY), JSON.stringify({ KEY }), inspect(KEY), `${KEY}`].join("\n");
    expect(shown).not.toContain(KEY_CANARY);
    expect(shown).toContain("[redacted]");
  });
});
