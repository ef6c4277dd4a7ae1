// AuditSink that appends one hash-chained JSON line per event to a file (audit-chain.ts has the format).
// - With a chain key (audit.chain_key) every line is keyed (HMAC-SHA256). A keyed sink continues an unkeyed file
//   (turning the key on); it never continues a keyed line its key does not authenticate, and a sink without a key
//   never continues a keyed file: both fail with AUDIT_FAILED, so a chain never silently changes key or downgrades.
// - Order: emit() calls are queued, so lines appear in call order even when callers do not await each other.
// - Several processes may share the file (replicas on one host, `run --once` next to `serve`): each append
//   holds `<file>.lock` (created with O_EXCL) while it reads the last line and writes, so the chain never forks.
//   A lock left by a killed process is taken over once it is older than STALE_LOCK_MS and its pid is gone.
// - Continuing an existing file chains from its last line. A file that ends in an incomplete line (a crash
//   mid-write) is never repaired silently: emit fails with AUDIT_FAILED until a person looks at it.
// - Only the AuditEvent members are written (audit-event-body.ts), so a stray field on an event object cannot carry a
//   secret into the file. The file is created with mode 0o600, its folder with 0o700.
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
import { RotatorError } from "../../core/errors.ts";
import type { AuditEvent } from "../../core/rotation/audit-events.ts";
import type { AuditSink } from "../../core/rotation/rotation-ports.ts";
import { type AuditChainKey, chainLine, GENESIS_PREV, sha256Hex, tailProblem } from "./audit-chain.ts";
import { auditEventBody } from "./audit-event-body.ts";

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

  // Group commit: events that queue up while a batch is being written go out together, under one lock and one
  // fdatasync, each still chained to the line before it. An emit resolves only once the fdatasync that covers its
  // line has returned; if the write or the fdatasync fails, every emit of the batch rejects.
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
        // Every event emitted during this turn of the event loop joins the batch.
        await new Promise((resolve) => setImmediate(resolve));
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
