// AuditSink that appends one hash-chained JSON line per event to a file (the hash chain's format is described further down).
// - With a chain key (audit.chain_key) every line is keyed (HMAC-SHA256). A keyed sink continues an unkeyed file
//   (turning the key on); it never continues a keyed line its key does not authenticate, and a sink without a key
//   never continues a keyed file: both fail with AUDIT_FAILED, so a chain never silently changes key or downgrades.
// - Order: emit() calls are queued, so lines appear in call order even when callers do not await each other.
// - Several processes may share the file (replicas on one host, `run --once` next to `serve`): each append
//   holds `<file>.lock` (created with O_EXCL) while it reads the last line and writes, so the chain never forks.
//   A lock left by a killed process is taken over once it is older than STALE_LOCK_MS and its pid is gone.
// - Continuing an existing file chains from its last line. A file that ends in an incomplete line (a crash
//   mid-write) is never repaired silently: emit fails with AUDIT_FAILED until a person looks at it.
// - Only the AuditEvent members are written (auditEventBody, below), so a stray field on an event object cannot carry a
//   secret into the file. The file is created with mode 0o600, its folder with 0o700.

import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import {
  closeSync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { inspect } from "node:util";
import { RotatorError } from "../../core/errors.ts";
import type { AuditSink } from "../../core/rotation/rotation-ports.ts";
import type { AuditEvent } from "../../core/rotation/rotation-state.ts";

const STALE_LOCK_MS = 10_000;

export interface JsonlFileAuditSinkOptions {
  /** fdatasync after every line (default true): an acknowledged event survives a power cut. */
  readonly fsync?: boolean;
  /** How long an append waits for another process's lock before failing (default 10 s). */
  readonly lockTimeoutMs?: number;
  /** audit.chain_key: every line's hash is an HMAC under it. */
  readonly chainKey?: AuditChainKey | undefined;
  /** Called after each batch is written and synced, with its number of lines (tests count the fdatasyncs). */
  readonly onCommit?: (lines: number) => void;
}

export class JsonlFileAuditSink implements AuditSink {
  readonly file: string;
  readonly #lockFile: string;
  readonly #fsync: boolean;
  readonly #lockTimeoutMs: number;
  readonly #chainKey: AuditChainKey | undefined;
  readonly #onCommit: ((lines: number) => void) | undefined;
  /** Events waiting for the writer. Every event that arrives while a batch is written joins the next batch. */
  #pending: Array<{ body: Record<string, unknown>; resolve: () => void; reject: (err: unknown) => void }> =
    [];
  #writing: Promise<void> | undefined;
  /** The file's size and last line's hash after our own last append: skips re-reading when nobody else wrote. */
  #tail: { size: number; hash: string } | undefined;

  constructor(file: string, opts: JsonlFileAuditSinkOptions = {}) {
    this.file = path.resolve(file);
    this.#lockFile = `${this.file}.lock`;
    this.#fsync = opts.fsync ?? true;
    this.#lockTimeoutMs = opts.lockTimeoutMs ?? 10_000;
    this.#chainKey = opts.chainKey;
    this.#onCommit = opts.onCommit;
  }

  // Group commit: events emitted together (by one callback and its microtasks), or queued while another process
  // holds the lock, go out together under one lock and one fdatasync, each still chained to the line before it.
  // A batch is written as soon as the code that emitted it yields, not at the end of the event loop's turn: on a
  // local disk the fdatasync takes about 0.1 ms, while waiting for the turn's end meant waiting for every other
  // rotation's ready callbacks (at eight concurrent rotations that made the audit wait three times longer for
  // about 1.8 lines per fdatasync). An emit resolves only once the fdatasync that covers its line has returned;
  // if the write or the fdatasync fails, every emit of the batch rejects.
  emit(event: AuditEvent): Promise<void> {
    const body = auditEventBody(event); // a snapshot: later changes to `event` do not reach the file
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ body, resolve, reject });
      this.#startWriter();
    });
  }

  /** Resolves when every event emitted so far has been written (or has failed). */
  async flush(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing;
  }

  #startWriter(): void {
    if (this.#writing !== undefined) return;
    this.#writing = (async () => {
      while (this.#pending.length > 0) {
        // Every event emitted by the code running now (this callback and its microtasks) joins the batch.
        await new Promise((resolve) => queueMicrotask(() => resolve(undefined)));
        const batch = this.#pending.splice(0);
        try {
          await this.#append(batch.map((b) => b.body));
          for (const b of batch) b.resolve();
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
      }
    })().finally(() => {
      this.#writing = undefined;
      // An emit that arrived after the loop's last check but before this callback still needs a writer.
      if (this.#pending.length > 0) this.#startWriter();
    });
  }

  // The file calls are synchronous, fdatasync included: a batch is written and synced within one turn of the
  // event loop. Asynchronous calls each cost a turn, and with rotations keeping the loop busy those turns, not
  // the disk, made each line wait: at eight concurrent rotations the audit wait per rotation was several times
  // what it is with synchronous calls (the rotation benchmark measures it). The price: the loop stands still for
  // the fdatasync, a fraction of a millisecond on a local disk. Only waiting for another process's lock yields.
  async #append(bodies: readonly Record<string, unknown>[]): Promise<void> {
    try {
      mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
      await this.#lock();
      try {
        const fd = openSync(this.file, "a+", 0o600);
        try {
          const { size } = fstatSync(fd);
          let prev = this.#tail?.size === size ? this.#tail.hash : this.#tailHash(fd, size);
          let text = "";
          for (const body of bodies) {
            const line = chainLine(body, prev, this.#chainKey);
            prev = sha256Hex(line);
            text += `${line}\n`;
          }
          const bytes = Buffer.from(text, "utf8");
          try {
            writeAll(fd, bytes);
            if (this.#fsync) fdatasyncSync(fd);
          } catch (err) {
            // Still under the lock: cut the batch off again, so the file ends with the last line that was
            // acknowledged (a torn line would stop every later append) and the rejected events are not in it.
            try {
              ftruncateSync(fd, size);
            } catch {
              // The error below is reported either way; a torn tail is then refused by the next append.
            }
            throw err;
          }
          this.#tail = { size: size + bytes.length, hash: prev };
        } finally {
          closeSync(fd);
        }
      } finally {
        try {
          unlinkSync(this.#lockFile);
        } catch {
          // Already gone (taken over as stale): nothing to release.
        }
      }
      this.#onCommit?.(bodies.length);
    } catch (err) {
      this.#tail = undefined;
      if (err instanceof RotatorError) throw err;
      throw auditFailed(this.file, "cannot append to the audit file", err);
    }
  }

  /** The hash to chain from: GENESIS_PREV for an empty file, else the last line's, once it may be continued. */
  #tailHash(fd: number, size: number): string {
    if (size === 0) return GENESIS_PREV;
    const last = lastLine(fd, size, this.file);
    const problem = tailProblem(last.toString("utf8"), this.#chainKey);
    if (problem !== undefined) throw auditFailed(this.file, problem, undefined, false);
    return sha256Hex(last);
  }

  /** Creates `<file>.lock` (O_EXCL) with our pid; waits, asynchronously, while another live process holds it. */
  async #lock(): Promise<void> {
    const deadline = Date.now() + this.#lockTimeoutMs;
    for (;;) {
      let fd: number;
      try {
        fd = openSync(this.#lockFile, "wx", 0o600);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        if (this.#removeStaleLock()) continue;
        if (Date.now() >= deadline) {
          throw auditFailed(this.file, `another process holds ${path.basename(this.#lockFile)}`, err);
        }
        await sleep(2 + Math.random() * 8);
        continue;
      }
      try {
        writeSync(fd, String(process.pid));
      } finally {
        closeSync(fd);
      }
      return;
    }
  }

  /** A lock file older than STALE_LOCK_MS whose pid is not running was left by a killed process. */
  #removeStaleLock(): boolean {
    try {
      const info = statSync(this.#lockFile);
      if (Date.now() - info.mtimeMs < STALE_LOCK_MS) return false;
      const pid = Number(readFileSync(this.#lockFile, "utf8").trim());
      if (Number.isInteger(pid) && pid > 0 && isRunning(pid)) return false;
      unlinkSync(this.#lockFile);
      return true;
    } catch (err) {
      // Gone meanwhile: the holder released it, try again.
      return (err as NodeJS.ErrnoException).code === "ENOENT";
    }
  }
}

/** The bytes of the file's last line (without its newline), reading backwards from the end; size > 0. */
function lastLine(fd: number, size: number, file: string): Buffer {
  for (let window = 4096; ; window *= 4) {
    const start = Math.max(0, size - window);
    const buf = Buffer.alloc(size - start);
    readSync(fd, buf, 0, buf.length, start);
    if (buf[buf.length - 1] !== 0x0a) {
      throw auditFailed(
        file,
        "the audit file ends in an incomplete line; inspect it before appending",
        undefined,
        false,
      );
    }
    const body = buf.subarray(0, -1);
    const nl = body.lastIndexOf(0x0a);
    if (nl >= 0) return body.subarray(nl + 1);
    if (start === 0) return body;
  }
}

/** write(2) may write less than asked (a full disk, a file size limit): write the rest, or throw its error. */
function writeAll(fd: number, bytes: Buffer): void {
  for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function auditFailed(file: string, what: string, cause: unknown, retryable = true): RotatorError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  return new RotatorError("AUDIT_FAILED", `${what} (${file}${code ? `: ${code}` : ""})`, {
    retryable,
    context: { file, errorCode: code },
    cause,
  });
}

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

// What the network sinks (syslog, HTTP) send of an AuditEvent: its declared members only, so a stray field on an
// event object can never carry a secret out of the process. The file sink writes the same members, in this order.
/** Every AuditEvent member, in the order sent. tsc fails here when AuditEvent gains or loses a member. */
const AUDIT_FIELDS = {
  type: true,
  time: true,
  rotationId: true,
  path: true,
  provider: true,
  mode: true,
  trigger: true,
  actor: true,
  step: true,
  reason: true,
  kvVersion: true,
  stagedId: true,
  keyFingerprint: true,
  errorCode: true,
  outageMs: true,
  durationMs: true,
  subject: true,
  previousOwner: true,
  deathProof: true,
  evidence: true,
} as const satisfies Record<keyof AuditEvent, true>;

/** A snapshot of the event's members (absent ones left out): later changes to `event` do not reach it. */
export function auditEventBody(event: AuditEvent): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(AUDIT_FIELDS) as (keyof AuditEvent)[]) {
    const v = event[key];
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/** JSON with every non-ASCII character as a \uXXXX escape: pure ASCII, so no charset question downstream. */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
