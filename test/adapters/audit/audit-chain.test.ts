import { describe, expect, it } from "vitest";
import {
  chainLine,
  GENESIS_PREV,
  sha256Hex,
  verifyAuditChain,
} from "../../../src/adapters/audit/audit-chain.ts";

/** A valid chain of `n` lines. */
function chain(n: number): string[] {
  const lines: string[] = [];
  let prev = GENESIS_PREV;
  for (let i = 1; i <= n; i++) {
    const line = chainLine(
      { type: "rotation.started", rotationId: `rot-${i}`, path: "api-credentials/x" },
      prev,
    );
    lines.push(line);
    prev = sha256Hex(line);
  }
  return lines;
}

describe("verifyAuditChain", () => {
  it("accepts an intact chain, with or without the empty string after the final newline", () => {
    expect(verifyAuditChain(chain(5))).toEqual({ ok: true, count: 5 });
    expect(verifyAuditChain(`${chain(5).join("\n")}\n`.split("\n"))).toEqual({ ok: true, count: 5 });
    expect(verifyAuditChain([])).toEqual({ ok: true, count: 0 });
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
