// Where the reader feed's audit lines come from: Vault's `socket` audit device (a listener here; Vault connects
// and writes one JSON entry per line) or its `file` audit device (a follower of the log). Both hand each complete
// line to the feed and never buffer more than one line of MAX_AUDIT_LINE_BYTES per connection or file: a longer
// line is dropped as it streams past (counted as oversized), so a peer that sends garbage or never ends a line
// costs bounded memory, and each connection is read on its own, so one that stalls holds up no other.

import type { FileHandle } from "node:fs/promises";
import { chmod, lstat, open, stat, unlink } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { MAX_AUDIT_LINE_BYTES } from "../../core/readers/audit-line.ts";

export interface AuditLineSink {
  /** One complete line, without its newline. */
  line(text: string): void;
  /** A line longer than the cap went past and was dropped. */
  oversized(): void;
}

export interface AuditSource {
  start(): Promise<void>;
  stop(): Promise<void>;
}

const NEWLINE = 0x0a;

/** Splits a byte stream into lines, dropping any line over `maxBytes` without keeping it. */
export class LineSplitter {
  readonly #sink: AuditLineSink;
  readonly #max: number;
  #parts: Buffer[] = [];
  #held = 0;
  #discarding = false;

  constructor(sink: AuditLineSink, maxBytes = MAX_AUDIT_LINE_BYTES) {
    this.#sink = sink;
    this.#max = maxBytes;
  }

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(NEWLINE, start);
      const end = nl === -1 ? chunk.length : nl;
      if (!this.#discarding) {
        const piece = chunk.subarray(start, end);
        if (this.#held + piece.length > this.#max) {
          this.#parts = [];
          this.#held = 0;
          this.#discarding = true;
          this.#sink.oversized();
        } else if (piece.length > 0) {
          // Copied: a subarray would keep the whole (possibly large) chunk alive.
          this.#parts.push(Buffer.from(piece));
          this.#held += piece.length;
        }
      }
      if (nl === -1) break;
      if (!this.#discarding) this.#emit();
      this.#discarding = false;
      this.#parts = [];
      this.#held = 0;
      start = nl + 1;
    }
  }

  /** Bytes held for an unfinished line. */
  get pending(): number {
    return this.#held;
  }

  #emit(): void {
    if (this.#held === 0) return;
    const text = (this.#parts.length === 1 ? this.#parts[0] : Buffer.concat(this.#parts))?.toString("utf8");
    if (text !== undefined && text.trim() !== "")
      this.#sink.line(text.endsWith("\r") ? text.slice(0, -1) : text);
  }
}

/** Where the socket listener listens: TCP host and port, or a unix socket path. */
export type SocketAddress =
  | { readonly kind: "tcp"; readonly host: string; readonly port: number }
  | { readonly kind: "unix"; readonly path: string; readonly mode: number };

/** Connections at once; more are closed at once (Vault opens one per audit device). */
const MAX_CONNECTIONS = 32;

/** A listener for Vault's socket audit device. */
export class AuditSocketListener implements AuditSource {
  readonly #address: SocketAddress;
  readonly #sink: AuditLineSink;
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #port = 0;

  constructor(address: SocketAddress, sink: AuditLineSink) {
    this.#address = address;
    this.#sink = sink;
  }

  /** The TCP port listened on (useful with port 0); 0 for a unix socket. */
  get port(): number {
    return this.#port;
  }

  async start(): Promise<void> {
    const server = createServer({ allowHalfOpen: false }, (socket) => this.#accept(socket));
    server.maxConnections = MAX_CONNECTIONS;
    const a = this.#address;
    if (a.kind === "unix") await removeStaleSocket(a.path);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      if (a.kind === "tcp") server.listen({ host: a.host, port: a.port }, resolve);
      else server.listen({ path: a.path, readableAll: false, writableAll: false }, resolve);
    });
    if (a.kind === "unix") await chmod(a.path, a.mode);
    const bound = server.address();
    this.#port = typeof bound === "object" && bound !== null ? bound.port : 0;
    this.#server = server;
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket);
    const splitter = new LineSplitter(this.#sink);
    socket.on("data", (chunk: Buffer) => splitter.push(chunk));
    socket.on("error", () => socket.destroy());
    socket.on("close", () => this.#sockets.delete(socket));
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) return;
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (this.#address.kind === "unix") await unlink(this.#address.path).catch(() => {});
  }
}

/**
 * A leftover socket from a run that died is removed. One that still answers belongs to a live process and is
 * left alone, as is anything that is not a socket: listen then fails with EADDRINUSE.
 */
async function removeStaleSocket(path: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (!st?.isSocket()) return;
  const live = await new Promise<boolean>((resolve) => {
    const probe = connect({ path });
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
  if (!live) await unlink(path);
}

const READ_CHUNK = 64 * 1024;

/**
 * Follows a file audit device's log: starts at its end, reads what is appended, and follows rotation (the file
 * renamed and a new one created: the old one is read to its end first, then the new one from its start) and
 * truncation (read again from the start). Polls: fs.watch misses renames on some filesystems and in containers.
 */
export class AuditFileFollower implements AuditSource {
  readonly #path: string;
  readonly #sink: AuditLineSink;
  readonly #pollMs: number;
  #handle: FileHandle | undefined;
  #ino = -1;
  #pos = 0;
  #splitter: LineSplitter;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  readonly #buf = Buffer.allocUnsafe(READ_CHUNK);

  constructor(path: string, sink: AuditLineSink, opts: { pollMs?: number } = {}) {
    this.#path = path;
    this.#sink = sink;
    this.#pollMs = opts.pollMs ?? 500;
    this.#splitter = new LineSplitter(sink);
  }

  async start(): Promise<void> {
    // From the end: what was logged before start-up is history the shared entries already hold (or too old).
    if (await this.#open()) this.#pos = (await this.#handle?.stat())?.size ?? 0;
    this.#schedule();
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#running = this.poll().finally(() => {
        this.#running = undefined;
        this.#schedule();
      });
    }, this.#pollMs);
    this.#timer.unref();
  }

  /** One look at the file (the timer calls it; tests may too). Never throws. */
  async poll(): Promise<void> {
    try {
      if (this.#handle === undefined) {
        // The file appeared (or came back): it is new, so it is read from its start.
        if (!(await this.#open())) return;
        this.#pos = 0;
      }
      const current = await stat(this.#path).catch(() => undefined);
      await this.#drain();
      if (current !== undefined && current.ino !== this.#ino) {
        // Rotated: the old file is read to its end above; now the new one from its start.
        await this.#close();
        if (await this.#open()) {
          this.#pos = 0;
          await this.#drain();
        }
      }
    } catch {
      // A read error (the file vanished mid-read): the next poll starts over.
      await this.#close();
    }
  }

  async #open(): Promise<boolean> {
    try {
      const h = await open(this.#path, "r");
      this.#handle = h;
      this.#ino = (await h.stat()).ino;
      this.#splitter = new LineSplitter(this.#sink);
      return true;
    } catch {
      return false;
    }
  }

  async #drain(): Promise<void> {
    const h = this.#handle;
    if (h === undefined) return;
    const size = (await h.stat()).size;
    if (size < this.#pos) {
      // Truncated (copytruncate): start over, dropping any half line from before.
      this.#pos = 0;
      this.#splitter = new LineSplitter(this.#sink);
    }
    while (!this.#stopped) {
      const { bytesRead } = await h.read(this.#buf, 0, READ_CHUNK, this.#pos);
      if (bytesRead === 0) break;
      this.#pos += bytesRead;
      this.#splitter.push(this.#buf.subarray(0, bytesRead));
    }
  }

  async #close(): Promise<void> {
    const h = this.#handle;
    this.#handle = undefined;
    this.#ino = -1;
    await h?.close().catch(() => {});
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#running;
    await this.#close();
  }
}
