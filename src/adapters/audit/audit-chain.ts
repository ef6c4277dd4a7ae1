// The audit file's hash chain. Each line is one JSON object whose last three members are
//   "alg":  how this line's hash was made: "sha256" (unkeyed) or "hmac-sha256" (keyed with audit.chain_key);
//           lines written before the member existed have none and count as "sha256"
//   "prev": SHA-256 hex of the previous line's exact bytes (without its newline); 64 zeros on the first line
//   "hash": SHA-256 hex, or HMAC-SHA256 hex under the chain key, of this line's content, i.e. the line with
//           `,"hash":"…"` cut out
// Hashing bytes, not re-serialised JSON, keeps the chain checkable with shell tools and free of key-order
// questions. Editing a line breaks its hash (or, if the hash is recomputed, the next line's prev); removing,
// inserting or reordering lines breaks a prev.
//
// Unkeyed, anyone who can write the file can rewrite it and recompute every hash. Keyed, a line's hash cannot be
// made without the key, and its prev (inside the authenticated content) pins every line before it, including
// unkeyed lines written before the key was set. Once a keyed line appears, every later line must be keyed: an
// unkeyed line after a keyed one is a downgrade and breaks the chain. Cutting whole lines off the end is not
// detectable from the file alone, keyed or not: compare with a second copy of the events (syslog or HTTP sink)
// or with the audit metrics.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { inspect } from "node:util";

export const GENESIS_PREV = "0".repeat(64);

type ChainAlg = "sha256" | "hmac-sha256";

/** Below this many bytes an HMAC key is refused (audit.chain_key). */
export const MIN_CHAIN_KEY_BYTES = 32;

const HASH_SUFFIX = /,"hash":"([0-9a-f]{64})"\}$/;

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * The HMAC key of a keyed chain. Printing, logging, JSON-serialising or inspecting it yields "[redacted]"; the
 * bytes never leave this object.
 */
export class AuditChainKey {
  readonly #key: Buffer;

  private constructor(key: Buffer) {
    this.#key = key;
  }

  /** The key material's bytes (UTF-8 of a string); at least MIN_CHAIN_KEY_BYTES, else a RangeError. */
  static of(material: string | Uint8Array): AuditChainKey {
    const key = Buffer.from(typeof material === "string" ? Buffer.from(material, "utf8") : material);
    if (key.length < MIN_CHAIN_KEY_BYTES)
      throw new RangeError(`an audit chain key needs at least ${MIN_CHAIN_KEY_BYTES} bytes`);
    return new AuditChainKey(key);
  }

  mac(content: string): string {
    return createHmac("sha256", this.#key).update(content, "utf8").digest("hex");
  }

  /** Whether `hash` (hex) is this key's HMAC of `content`, compared in constant time. */
  matches(content: string, hash: string): boolean {
    const want = Buffer.from(this.mac(content), "hex");
    const got = Buffer.from(hash, "hex");
    return got.length === want.length && timingSafeEqual(got, want);
  }

  toString(): string {
    return "[redacted]";
  }

  toJSON(): string {
    return "[redacted]";
  }

  [inspect.custom](): string {
    return "[redacted]";
  }
}

/**
 * One chained line (without the newline): `body`'s members, then alg, prev and the hash of all that (an HMAC
 * when `key` is given).
 */
export function chainLine(
  body: Readonly<Record<string, unknown>>,
  prev: string,
  key?: AuditChainKey,
): string {
  const { alg: _a, prev: _p, hash: _h, ...rest } = body;
  const content = JSON.stringify({ ...rest, alg: key === undefined ? "sha256" : "hmac-sha256", prev });
  const hash = key === undefined ? sha256Hex(content) : key.mac(content);
  return `${content.slice(0, -1)},"hash":"${hash}"}`;
}

export type AuditChainResult =
  | {
      readonly ok: true;
      /** Lines in the file. */
      readonly count: number;
      /** Keyed lines ("hmac-sha256"): always the last `keyed` lines; the ones before predate the key. */
      readonly keyed: number;
      /** A key was given and every keyed line matched it (false without a key, or with no keyed line). */
      readonly authenticated: boolean;
    }
  | { readonly ok: false; readonly line: number; readonly problem: string };

/**
 * Checks a whole audit file given as its lines (a file's text split on "\n"; one empty string after the final
 * newline is allowed). `line` in a failure is 1-based. Without `key`, keyed lines are checked for their place in
 * the chain only: their hashes cannot be checked, so `authenticated` is false.
 */
export function verifyAuditChain(
  lines: readonly string[],
  opts: { readonly key?: AuditChainKey | undefined } = {},
): AuditChainResult {
  const n = lines.length > 0 && lines[lines.length - 1] === "" ? lines.length - 1 : lines.length;
  let keyed = 0;
  for (let i = 0; i < n; i++) {
    const line = lines[i] ?? "";
    const parsed = parseLine(line);
    if (typeof parsed === "string") return { ok: false, line: i + 1, problem: parsed };
    const problem = hashProblem(parsed, opts.key, keyed === 0) ?? prevProblem(parsed, lines, i);
    if (problem !== undefined) return { ok: false, line: i + 1, problem };
    if (parsed.alg === "hmac-sha256") keyed++;
    else if (keyed > 0)
      return {
        ok: false,
        line: i + 1,
        problem:
          "an unkeyed line after keyed lines (the chain was downgraded: written or rewritten without the key)",
      };
  }
  return { ok: true, count: n, keyed, authenticated: opts.key !== undefined && keyed > 0 };
}

/**
 * Why a writer must not continue a file whose last line is `line` (undefined: it may). A writer without a key
 * never continues a keyed file; a writer with a key never continues a keyed line its key does not authenticate
 * (another key, or an edited line). Lines it cannot parse are left to `audit verify`.
 */
export function tailProblem(line: string, key: AuditChainKey | undefined): string | undefined {
  const parsed = parseLine(line);
  if (typeof parsed === "string" || parsed.alg !== "hmac-sha256") return undefined;
  if (key === undefined)
    return "the audit file is keyed (hmac-sha256) and this process has no audit.chain_key: it will not continue the file unkeyed";
  if (!key.matches(parsed.content, parsed.hash))
    return "the audit file's last line does not match audit.chain_key (another key, or an edited line); check it with audit verify";
  return undefined;
}

interface ParsedLine {
  readonly content: string;
  readonly hash: string;
  readonly alg: ChainAlg;
  readonly prev: unknown;
}

function parseLine(line: string): ParsedLine | string {
  if (line === "") return "empty line";
  const m = HASH_SUFFIX.exec(line);
  if (m === null) return "no hash at the end of the line (truncated or edited)";
  const content = `${line.slice(0, m.index)}}`;
  let obj: { alg?: unknown; prev?: unknown };
  try {
    obj = JSON.parse(content) as { alg?: unknown; prev?: unknown };
  } catch {
    return "not a JSON object";
  }
  const alg = obj.alg ?? "sha256";
  if (alg !== "sha256" && alg !== "hmac-sha256") return "unknown chain algorithm in alg";
  return { content, hash: m[1] ?? "", alg, prev: obj.prev };
}

function hashProblem(p: ParsedLine, key: AuditChainKey | undefined, firstKeyed: boolean): string | undefined {
  if (p.alg === "sha256")
    return sha256Hex(p.content) === p.hash ? undefined : "the line does not match its hash (edited)";
  if (key === undefined || key.matches(p.content, p.hash)) return undefined;
  return firstKeyed
    ? "the first keyed line does not match the key (the key is wrong, or the line was edited)"
    : "the line does not match its HMAC under the key (edited)";
}

function prevProblem(p: ParsedLine, lines: readonly string[], i: number): string | undefined {
  if (p.prev === (i === 0 ? GENESIS_PREV : sha256Hex(lines[i - 1] ?? ""))) return undefined;
  return i === 0
    ? "the first line does not start a chain (lines before it were removed?)"
    : "prev does not match the line before (a line was removed, inserted or reordered)";
}
