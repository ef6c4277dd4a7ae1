// The audit file's hash chain (product.md 5: "hash-chained so tampering is detectable"). Each line is one JSON
// object whose last two members are
//   "prev": SHA-256 hex of the previous line's exact bytes (without its newline); 64 zeros on the first line
//   "hash": SHA-256 hex of this line's content, i.e. the line with `,"hash":"…"` cut out
// Hashing bytes, not re-serialised JSON, keeps the chain checkable with shell tools and free of key-order
// questions. Editing a line breaks its hash (or, if the hash is recomputed, the next line's prev); removing,
// inserting or reordering lines breaks a prev. Cutting whole lines off the end is not detectable from the file
// alone: compare the line count with what was expected (the sink's emit count, or the metrics).
import { createHash } from "node:crypto";

export const GENESIS_PREV = "0".repeat(64);

const HASH_SUFFIX = /,"hash":"([0-9a-f]{64})"\}$/;

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** One chained line (without the newline): `body`'s members, then prev, then the hash of all that. */
export function chainLine(body: Readonly<Record<string, unknown>>, prev: string): string {
  const { prev: _p, hash: _h, ...rest } = body;
  const content = JSON.stringify({ ...rest, prev });
  return `${content.slice(0, -1)},"hash":"${sha256Hex(content)}"}`;
}

export type AuditChainResult =
  | { readonly ok: true; readonly count: number }
  | { readonly ok: false; readonly line: number; readonly problem: string };

/**
 * Checks a whole audit file given as its lines (a file's text split on "\n"; one empty string after the final
 * newline is allowed). `line` in a failure is 1-based.
 */
export function verifyAuditChain(lines: readonly string[]): AuditChainResult {
  const n = lines.length > 0 && lines[lines.length - 1] === "" ? lines.length - 1 : lines.length;
  for (let i = 0; i < n; i++) {
    const line = lines[i] ?? "";
    const problem = lineProblem(line, i === 0 ? GENESIS_PREV : sha256Hex(lines[i - 1] ?? ""), i === 0);
    if (problem !== undefined) return { ok: false, line: i + 1, problem };
  }
  return { ok: true, count: n };
}

function lineProblem(line: string, expectedPrev: string, first: boolean): string | undefined {
  if (line === "") return "empty line";
  const m = HASH_SUFFIX.exec(line);
  if (m === null) return "no hash at the end of the line (truncated or edited)";
  const content = `${line.slice(0, m.index)}}`;
  if (sha256Hex(content) !== m[1]) return "the line does not match its hash (edited)";
  let prev: unknown;
  try {
    prev = (JSON.parse(content) as { prev?: unknown }).prev;
  } catch {
    return "not a JSON object";
  }
  if (prev === expectedPrev) return undefined;
  return first
    ? "the first line does not start a chain (lines before it were removed?)"
    : "prev does not match the line before (a line was removed, inserted or reordered)";
}
