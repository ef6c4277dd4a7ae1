// The outbound HTTP client every adapter uses (Vault, Salesforce, Marketing Cloud, chat, the audit collector):
// HTTP/1.1 on node:net and node:tls with kept-alive connections, the wire format in http1-wire.ts. All the
// adapters need is one request and its answer, read with a cap; node:http's client does much more per request
// (a ClientRequest and an IncomingMessage stream, the agent's bookkeeping), and a scan that reads every key of
// a large Vault CE mount one by one spent more CPU on that than on the answers.
// - Timeouts per phase: connecting (TCP and TLS), waiting for the answer's head, and the body going idle. Each
//   fails with its own code; the codes are the ones the adapters (and logs, audit and health) have always shown.
// - Redirects are never followed: a 3xx is an answer like any other.
// - Keep-alive: an idle connection is closed after a few seconds, or sooner when the server's Keep-Alive hint
//   says so, and one that receives bytes while idle is closed. A safe request (GET, HEAD, OPTIONS, LIST) that
//   fails on a reused connection the server had closed, before any byte of an answer came, is sent once more on
//   a new connection of its own: a read is harmless to repeat. Any other failure is the adapter's to retry.
// - Answers are read with a byte cap: a peer that is broken, hostile or replaced by a proxy's error page must not
//   make the rotator hold an answer of any size. A declared Content-Length above the cap is refused before a byte
//   is read; otherwise bytes are counted as they arrive and the connection is closed the moment the count passes
//   the cap. Each adapter turns AnswerTooLargeError into its own error code; the body is never quoted.
// - Errors never carry the URL, its query or a header value: only a code and a fixed text (Node's own connect
//   errors name the host and port, which are not secrets).
// - Each request is published on the diagnostics channels "eca-rotator:http.request" (when it starts) and
//   "eca-rotator:http.done" (when its answer has arrived, or it failed), as { origin, method, path } (the path
//   with its query; never a header or a body): the benchmarks count and time requests with them, in-process.
//   Nothing is published without a subscriber.
import { channel } from "node:diagnostics_channel";
import type { IncomingHttpHeaders } from "node:http";
import net from "node:net";
import tls from "node:tls";
import type { Clock } from "../../core/time.ts";
import { ResponseParser, requestHead } from "./http1-wire.ts";

interface HttpRequestInit {
  readonly method: string;
  readonly headers?: Readonly<Record<string, string>> | undefined;
  readonly body?: string | undefined;
  /** Aborting fails the request (or the body being read) with the signal's reason. */
  readonly signal?: AbortSignal | undefined;
  /** This request's headers and body-idle timeouts; default the transport's. */
  readonly timeoutMs?: number | undefined;
}

interface HttpResponse {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
  /** Must be read (readCappedText, discardCapped), so the connection is released. */
  readonly body: AnswerBody;
}

/** What an adapter sends through; tests wrap it to record every request. */
export interface HttpTransport {
  request(url: string, init: HttpRequestInit): Promise<HttpResponse>;
  /** Waits for the requests in flight, then closes every connection. */
  close(): Promise<void>;
}

export interface TransportTls {
  readonly ca?: readonly Buffer[];
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly servername?: string;
  readonly rejectUnauthorized?: boolean;
}

/** The failure kinds this client adds to Node's own (ECONNREFUSED, ECONNRESET, TLS codes ...). */
const HTTP_CLIENT_CODES = {
  connectTimeout: "UND_ERR_CONNECT_TIMEOUT",
  headersTimeout: "UND_ERR_HEADERS_TIMEOUT",
  bodyTimeout: "UND_ERR_BODY_TIMEOUT",
  closed: "UND_ERR_CLOSED",
  invalidUrl: "ERR_INVALID_URL",
} as const;

class HttpClientError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = "HttpClientError";
    this.code = code;
  }
}

/** How long an idle kept-alive connection is kept (the server's Keep-Alive hint, less a second, when shorter). */
const KEEP_ALIVE_IDLE_MS = 4_000;
const SAFE_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS", "LIST"]);
/** A reused connection the server closed while it sat idle fails with one of these before any answer. */
const STALE_CODES: ReadonlySet<string> = new Set(["ECONNRESET", "EPIPE"]);
/** Body bytes held for a reader that has not started yet, before the connection stops reading. */
const UNREAD_HIGH_WATER = 64 * 1024;

const requestChannel = channel("eca-rotator:http.request");
const doneChannel = channel("eca-rotator:http.done");

/** The transport an adapter builds when none is injected: `timeoutMs` for every phase, optional TLS material. */
export function createHttpTransport(timeoutMs: number, tls: TransportTls = {}): HttpTransport {
  return new Http1Transport(timeoutMs, tls);
}

class Http1Transport implements HttpTransport {
  readonly #timeoutMs: number;
  readonly #tls: tls.ConnectionOptions;
  /** Idle kept-alive connections by origin, most recently used last. */
  readonly #idle = new Map<string, Connection[]>();
  /** The latest TLS session ticket per origin (one each: a handful of origins). */
  readonly #sessions = new Map<string, Buffer>();
  readonly #open = new Set<Connection>();
  #inFlight = 0;
  #closed = false;
  #drained: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  constructor(timeoutMs: number, tlsOptions: TransportTls) {
    this.#timeoutMs = timeoutMs;
    this.#tls = {
      rejectUnauthorized: tlsOptions.rejectUnauthorized ?? true,
      ...(tlsOptions.ca && tlsOptions.ca.length > 0 ? { ca: [...tlsOptions.ca] } : {}),
      ...(tlsOptions.cert ? { cert: tlsOptions.cert } : {}),
      ...(tlsOptions.key ? { key: tlsOptions.key } : {}),
      ...(tlsOptions.servername ? { servername: tlsOptions.servername } : {}),
    };
  }

  async request(url: string, init: HttpRequestInit): Promise<HttpResponse> {
    if (this.#closed) throw new HttpClientError(HTTP_CLIENT_CODES.closed, "the HTTP client is closed");
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      throw new HttpClientError(HTTP_CLIENT_CODES.invalidUrl, "the address is not a valid URL");
    }
    if (target.protocol !== "http:" && target.protocol !== "https:") {
      throw new HttpClientError(HTTP_CLIENT_CODES.invalidUrl, "the address is not an http or https URL");
    }
    // Upper-cased, as node:http did: the method decides the framing and the retry, whatever case a caller used.
    const method = init.method.toUpperCase();
    const body = init.body === undefined ? undefined : Buffer.from(init.body, "utf8");
    const head = (keepAlive: boolean) =>
      requestHead({
        method,
        target: `${target.pathname}${target.search}`,
        host: target.host,
        headers: init.headers,
        contentLength: body?.length,
        keepAlive,
      });
    // A request this client refuses to write fails here, before any connection (the message names no value).
    const pooledHead = head(true);
    const note = { origin: target.origin, method, path: `${target.pathname}${target.search}` };
    if (requestChannel.hasSubscribers) requestChannel.publish(note);
    this.#inFlight++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      if (doneChannel.hasSubscribers) doneChannel.publish(note);
      if (--this.#inFlight === 0) this.#drained?.();
    };
    try {
      return await this.#exchange(target, method, init, pooledHead, body, true, release).catch(
        (err: unknown) => {
          if (!(err instanceof StaleConnection)) throw err;
          return this.#exchange(target, method, init, head(false), body, false, release);
        },
      );
    } catch (err) {
      release();
      throw err;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#inFlight > 0) {
      this.#closing ??= new Promise<void>((resolve) => {
        this.#drained = resolve;
      });
      await this.#closing;
    }
    for (const conn of this.#open) conn.close();
    this.#open.clear();
    this.#idle.clear();
  }

  /** One attempt. `pooled` false: a connection of its own (the retry after a stale one), closed after use. */
  #exchange(
    target: URL,
    method: string,
    init: HttpRequestInit,
    head: string,
    body: Buffer | undefined,
    pooled: boolean,
    release: () => void,
  ): Promise<HttpResponse> {
    const signal = init.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const key = `${target.protocol}//${target.host}`;
    const conn = (pooled ? this.#takeIdle(key) : undefined) ?? this.#connect(target, key, pooled);
    return new Promise<HttpResponse>((resolve, reject) => {
      const exchange = new Exchange({
        conn,
        headRequest: method === "HEAD",
        safe: SAFE_METHODS.has(method),
        phaseMs: init.timeoutMs ?? this.#timeoutMs,
        connectMs: this.#timeoutMs,
        signal,
        resolve,
        reject,
        release,
        settled: (reusable) => this.#settled(conn, reusable),
      });
      conn.start(exchange);
      if (body === undefined) conn.socket.write(head, "latin1");
      else conn.socket.write(Buffer.concat([Buffer.from(head, "latin1"), body]));
    });
  }

  #takeIdle(key: string): Connection | undefined {
    const list = this.#idle.get(key);
    while (list !== undefined && list.length > 0) {
      const conn = list.pop() as Connection;
      if (list.length === 0) this.#idle.delete(key);
      // One the server has closed (its end came while it sat idle) is dropped, not tried.
      if (conn.socket.destroyed || conn.socket.readableEnded || !conn.socket.writable) {
        conn.close();
        continue;
      }
      conn.wake();
      return conn;
    }
    return undefined;
  }

  #connect(target: URL, key: string, pooled: boolean): Connection {
    const host = target.hostname.replace(/^\[(.*)\]$/, "$1");
    const secure = target.protocol === "https:";
    const port = target.port === "" ? (secure ? 443 : 80) : Number(target.port);
    const session = secure ? this.#sessions.get(key) : undefined;
    const socket = secure
      ? tls.connect({
          host,
          port,
          ...this.#tls,
          // The server name to send and to check the certificate against: the configured one, else the host's
          // name (an address is checked against the certificate's IP entries instead).
          servername: this.#tls.servername ?? (net.isIP(host) === 0 ? host : undefined),
          // The last session with this origin, so a new connection resumes it instead of a full handshake.
          ...(session ? { session } : {}),
        })
      : net.connect({ host, port });
    if (secure) {
      socket.on("session", (s: Buffer) => this.#sessions.set(key, s));
      socket.once("error", () => this.#sessions.delete(key));
    }
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 1_000);
    const conn = new Connection(socket, key, secure, pooled, (c) => this.#forget(c));
    this.#open.add(conn);
    return conn;
  }

  /** The answer ended: the connection goes back to the pool, or is closed. */
  #settled(conn: Connection, keepMs: number | undefined): void {
    if (keepMs === undefined || !conn.pooled || this.#closed || conn.socket.destroyed) {
      conn.close();
      return;
    }
    conn.idle(keepMs);
    const list = this.#idle.get(conn.key) ?? [];
    list.push(conn);
    this.#idle.set(conn.key, list);
  }

  #forget(conn: Connection): void {
    this.#open.delete(conn);
    const list = this.#idle.get(conn.key);
    const at = list?.indexOf(conn) ?? -1;
    if (list !== undefined && at >= 0) {
      list.splice(at, 1);
      if (list.length === 0) this.#idle.delete(conn.key);
    }
  }
}

/** One TCP (or TLS) connection: at most one exchange at a time, idle in the pool between them. */
class Connection {
  readonly socket: net.Socket;
  readonly key: string;
  readonly pooled: boolean;
  /** The socket is connected (and the TLS handshake done). */
  connected = false;
  /** An exchange ran on it before: a failure before any answer may be the server's idle close. */
  reused = false;
  #exchange: Exchange | undefined;
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(
    socket: net.Socket,
    key: string,
    secure: boolean,
    pooled: boolean,
    forget: (c: Connection) => void,
  ) {
    this.socket = socket;
    this.key = key;
    this.pooled = pooled;
    socket.once(secure ? "secureConnect" : "connect", () => {
      this.connected = true;
      this.#exchange?.connected();
    });
    socket.on("data", (chunk: Buffer) => {
      if (this.#exchange === undefined) {
        // Bytes nobody asked for: whatever they are, this connection's framing can no longer be trusted.
        socket.destroy();
        return;
      }
      this.#exchange.data(chunk);
    });
    socket.on("end", () => this.#exchange?.ended());
    socket.on("error", (err: Error) => this.#exchange?.fail(err));
    socket.on("close", () => {
      clearTimeout(this.#idleTimer);
      this.#exchange?.fail(
        Object.assign(new Error("the connection closed before the answer ended"), { code: "ECONNRESET" }),
      );
      forget(this);
    });
  }

  start(exchange: Exchange): void {
    this.#exchange = exchange;
    exchange.begin(this.reused);
    this.reused = true;
  }

  /** The exchange is over and the connection waits for the next one, at most `keepMs`. */
  idle(keepMs: number): void {
    this.#exchange = undefined;
    // Reading again, should it have been paused for a late reader: an idle close or stray bytes must be seen.
    this.socket.resume();
    // Idle connections do not keep the process alive, as Node's own agent does with its free sockets.
    this.socket.unref();
    this.#idleTimer = setTimeout(() => this.socket.destroy(), keepMs);
    this.#idleTimer.unref();
  }

  close(): void {
    this.#exchange = undefined;
    clearTimeout(this.#idleTimer);
    this.socket.destroy();
  }

  wake(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.socket.ref();
  }
}

interface ExchangeOptions {
  readonly conn: Connection;
  readonly headRequest: boolean;
  readonly safe: boolean;
  readonly phaseMs: number;
  readonly connectMs: number;
  readonly signal: AbortSignal | undefined;
  readonly resolve: (res: HttpResponse) => void;
  readonly reject: (err: unknown) => void;
  readonly release: () => void;
  /** The answer ended with the connection intact: kept for `keepMs`, or closed (undefined). */
  readonly settled: (keepMs: number | undefined) => void;
}

/** One request on one connection: its timers, the parser of its answer, and the body handed to the caller. */
class Exchange {
  readonly #o: ExchangeOptions;
  readonly #parser: ResponseParser;
  #body: AnswerBody | undefined;
  #timer: NodeJS.Timeout | undefined;
  #reused = false;
  #over = false;
  #keepMs = KEEP_ALIVE_IDLE_MS;
  readonly #onAbort = () => this.fail(this.#o.signal?.reason);

  constructor(o: ExchangeOptions) {
    this.#o = o;
    this.#parser = new ResponseParser(
      {
        head: (h) => {
          const body = new AnswerBody(h.headers, this);
          this.#body = body;
          this.#arm(HTTP_CLIENT_CODES.bodyTimeout, "the answer's body stalled");
          this.#keepMs = keepAliveMs(h.headers["keep-alive"]);
          o.resolve({ statusCode: h.statusCode, headers: h.headers, body });
        },
        body: (chunk) => this.#body?.push(chunk),
        end: (reusable) => this.#end(reusable),
      },
      o.headRequest,
    );
  }

  begin(reused: boolean): void {
    this.#reused = reused;
    this.#o.signal?.addEventListener("abort", this.#onAbort, { once: true });
    if (this.#o.conn.connected) this.connected();
    else this.#arm(HTTP_CLIENT_CODES.connectTimeout, "connect timeout", this.#o.connectMs);
  }

  connected(): void {
    if (!this.#over && this.#body === undefined) {
      this.#arm(HTTP_CLIENT_CODES.headersTimeout, "no answer headers in time");
    }
  }

  data(chunk: Buffer): void {
    if (this.#over) return;
    if (this.#body !== undefined) this.#timer?.refresh();
    try {
      this.#parser.feed(chunk);
    } catch (err) {
      this.fail(err);
    }
  }

  /** The server closed its side. */
  ended(): void {
    if (this.#over) return;
    try {
      this.#parser.eof();
    } catch (err) {
      this.fail(err);
    }
  }

  /** Fails the request (before its head) or its body (after), and closes the connection. */
  fail(err: unknown): void {
    if (this.#over) return;
    this.#over = true;
    this.#cleanup();
    this.#o.conn.close();
    if (this.#body !== undefined) {
      this.#o.release();
      this.#body.error(err);
      return;
    }
    const code = (err as { code?: unknown } | null)?.code;
    if (
      this.#reused &&
      this.#o.safe &&
      this.#parser.untouched &&
      typeof code === "string" &&
      STALE_CODES.has(code)
    ) {
      // Not released: the retry carries the request on.
      this.#o.reject(new StaleConnection());
      return;
    }
    this.#o.release();
    this.#o.reject(err);
  }

  /** The body's reader wants no more: the connection cannot be reused mid-answer. */
  abandon(err: unknown): void {
    this.fail(err);
  }

  /** Applies backpressure while a reader is missing, and lifts it when one starts. */
  pause(paused: boolean): void {
    if (this.#over) return;
    if (paused) this.#o.conn.socket.pause();
    else this.#o.conn.socket.resume();
  }

  /**
   * The answer is complete. The request is over for the transport here, whether or not its body has been read
   * yet (what was not is held by the body): close() never waits for a reader that never comes.
   */
  #end(reusable: boolean): void {
    if (this.#over) return;
    this.#over = true;
    this.#cleanup();
    this.#o.release();
    this.#body?.end();
    this.#o.settled(reusable && this.#keepMs > 0 ? this.#keepMs : undefined);
  }

  #arm(code: string, message: string, ms = this.#o.phaseMs): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.fail(new HttpClientError(code, message)), ms);
  }

  #cleanup(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#o.signal?.removeEventListener("abort", this.#onAbort);
  }
}

/** The server's Keep-Alive hint ("timeout=5") less a second, within this client's own idle limit. */
function keepAliveMs(hint: string | string[] | undefined): number {
  const seconds = /(?:^|[\s,])timeout=(\d+)/i.exec(Array.isArray(hint) ? hint.join(",") : (hint ?? ""))?.[1];
  if (seconds === undefined) return KEEP_ALIVE_IDLE_MS;
  return Math.min(KEEP_ALIVE_IDLE_MS, Number(seconds) * 1000 - 1000);
}

/** Internal: a reused connection the server had closed; the request goes once more on a new one. */
class StaleConnection extends Error {}

/**
 * An answer's body, as it arrives. One reader (readCappedText or discardCapped) takes it; bytes that come before
 * the reader starts are held, up to a high-water mark past which the connection stops reading.
 */
class AnswerBody {
  readonly #headers: IncomingHttpHeaders;
  readonly #exchange: Exchange;
  #held: Buffer[] = [];
  #heldBytes = 0;
  #ended = false;
  #error: { readonly err: unknown } | undefined;
  #reader: BodyReader | undefined;
  #done = false;

  constructor(headers: IncomingHttpHeaders, exchange: Exchange) {
    this.#headers = headers;
    this.#exchange = exchange;
  }

  push(chunk: Buffer): void {
    if (this.#reader !== undefined) {
      this.#deliver(chunk);
      return;
    }
    this.#held.push(chunk);
    this.#heldBytes += chunk.length;
    if (this.#heldBytes > UNREAD_HIGH_WATER) this.#exchange.pause(true);
  }

  end(): void {
    this.#ended = true;
    if (this.#reader !== undefined) this.#settle();
  }

  error(err: unknown): void {
    this.#error ??= { err };
    if (this.#reader !== undefined) this.#settle();
  }

  /** Hands every chunk to `keep`; AnswerTooLargeError (connection closed) past `maxBytes`. One reader only. */
  read(maxBytes: number, keep: (chunk: Buffer) => void): Promise<void> {
    if (this.#reader !== undefined || this.#done)
      return Promise.reject(new Error("the answer was already read"));
    const header = this.#headers["content-length"];
    const declared = Number(header);
    return new Promise<void>((resolve, reject) => {
      this.#reader = { maxBytes, keep, total: 0, resolve, reject };
      if (header !== undefined && declared > maxBytes) {
        this.#tooLarge();
        return;
      }
      const held = this.#held;
      this.#held = [];
      this.#heldBytes = 0;
      for (const chunk of held) if (!this.#done) this.#deliver(chunk);
      if (!this.#done && (this.#ended || this.#error !== undefined)) this.#settle();
      else if (!this.#done) this.#exchange.pause(false);
    });
  }

  #deliver(chunk: Buffer): void {
    const reader = this.#reader as BodyReader;
    reader.total += chunk.length;
    if (reader.total > reader.maxBytes) {
      this.#tooLarge();
      return;
    }
    reader.keep(chunk);
  }

  #tooLarge(): void {
    const reader = this.#reader as BodyReader;
    const err = new AnswerTooLargeError(reader.maxBytes);
    this.#error ??= { err };
    this.#exchange.abandon(err);
    this.#settle();
  }

  #settle(): void {
    if (this.#done) return;
    this.#done = true;
    const reader = this.#reader as BodyReader;
    if (this.#error !== undefined) reader.reject(this.#error.err);
    else reader.resolve();
  }
}

interface BodyReader {
  readonly maxBytes: number;
  readonly keep: (chunk: Buffer) => void;
  total: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

// ---- reading an answer with a cap ---------------------------------------------------------------------------

const KiB = 1024;
export const MiB = 1024 * KiB;

/** Salesforce, Marketing Cloud, chat and audit answers are a few KiB at most: 1 MiB leaves ample room. */
export const DEFAULT_ANSWER_CAP_BYTES = 1 * MiB;

export class AnswerTooLargeError extends Error {
  readonly limitBytes: number;

  constructor(limitBytes: number) {
    super(`the answer is larger than ${formatBytes(limitBytes)}`);
    this.name = "AnswerTooLargeError";
    this.limitBytes = limitBytes;
  }
}

/** "1 MiB", "64 KiB", "100 bytes". */
export function formatBytes(bytes: number): string {
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes >= KiB && bytes % KiB === 0) return `${bytes / KiB} KiB`;
  return `${bytes} bytes`;
}

type Answer = Pick<HttpResponse, "body">;

/**
 * The body as UTF-8 text; AnswerTooLargeError (connection closed) past `maxBytes`. Chunks are copied into one
 * buffer as they come (it grows by doubling, never past the cap): a server sending a byte per packet must not make
 * the rotator keep a buffer object for each of them.
 */
export async function readCappedText(res: Answer, maxBytes: number): Promise<string> {
  let only: Buffer | undefined;
  let joined: Buffer | undefined;
  let used = 0;
  await res.body.read(maxBytes, (chunk) => {
    if (joined === undefined && only === undefined) {
      only = chunk;
      return;
    }
    const need = (only?.length ?? 0) + used + chunk.length;
    if (joined === undefined || need > joined.length) {
      const grown = Buffer.allocUnsafe(Math.min(maxBytes, Math.max(need, 2 * (joined?.length ?? 0), 4096)));
      if (joined !== undefined) joined.copy(grown, 0, 0, used);
      joined = grown;
    }
    if (only !== undefined) {
      used = only.copy(joined, 0);
      only = undefined;
    }
    used += chunk.copy(joined, used);
  });
  if (joined !== undefined) return joined.toString("utf8", 0, used);
  return only === undefined ? "" : only.toString("utf8");
}

/** Reads and drops the body (so the connection can be reused); AnswerTooLargeError past `maxBytes`. */
export async function discardCapped(res: Answer, maxBytes: number): Promise<void> {
  await res.body.read(maxBytes, () => {});
}

// Classifying transport failures (no HTTP answer) the same way in every HTTP adapter: which error code the HTTP
// client (http-client.ts) or Node gave, whether it is worth another try, whether the request can have reached the
// server at all, and the safe forms of addresses and texts that may appear in messages.
/** Codes of failures that are transient: another try may work. */
const UNAVAILABLE_TRANSPORT_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_DESTROYED",
  "UND_ERR_ABORTED",
  "ABORT_ERR",
]);

/**
 * Codes of failures that happen before a request is written: the server cannot have acted on it. Anything else
 * (a reset, a timeout waiting for the answer) leaves a non-idempotent call's outcome unknown.
 */
const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
]);

const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|ERR_OSSL_|HOSTNAME_MISMATCH)/;

/** The first error code found on an error, its cause or (happy-eyeballs) its aggregated errors. */
export function transportErrorCode(err: unknown, depth = 0): string | undefined {
  if (depth > 4 || typeof err !== "object" || err === null) return undefined;
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown; name?: unknown };
  if (typeof e.code === "string" && e.code !== "") return e.code;
  if (e.name === "AbortError" || e.name === "TimeoutError") return "ABORT_ERR";
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const code = transportErrorCode(inner, depth + 1);
      if (code) return code;
    }
  }
  return transportErrorCode(e.cause, depth + 1);
}

export function isTlsErrorCode(code: string): boolean {
  return TLS_CODE.test(code);
}

export function isUnavailableCode(code: string): boolean {
  return UNAVAILABLE_TRANSPORT_CODES.has(code);
}

/** True when the failure happened before the request left this process (nothing reached the server). */
export function isNotSentCode(code: string): boolean {
  return NOT_SENT_CODES.has(code) || isTlsErrorCode(code);
}

/** The address without credentials, path or query: safe for messages. */
export function safeOrigin(address: string): string {
  try {
    return new URL(address).origin;
  } catch {
    return "(invalid address)";
  }
}

/** One line, at most `max` characters. */
export function truncateOneLine(text: string, max: number): string {
  const oneLine = text.replace(/\s+/g, " ").trim();
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1)}…`;
}

// Retry timing shared by the HTTP adapters: exponential backoff with "equal jitter" (half fixed, half random, so
// retries from many callers spread out but never collapse to zero) and Retry-After parsing.
export interface BackoffOptions {
  /** Delay before the first retry, before jitter. */
  readonly baseMs: number;
  /** Upper bound of the exponential part. */
  readonly capMs: number;
  /** A [0, 1) source; injected so tests can pin the jitter. Default Math.random. */
  readonly random?: () => number;
}

/** The delay before retry number `attempt + 1` (attempt 0 = the first retry): in [exp/2, exp). */
export function backoffDelayMs(attempt: number, opts: BackoffOptions): number {
  const exp = Math.min(opts.capMs, opts.baseMs * 2 ** Math.max(0, attempt));
  const random = opts.random ?? Math.random;
  return exp / 2 + random() * (exp / 2);
}

/** A Retry-After header (seconds or an HTTP date) as milliseconds from now; undefined when absent or invalid. */
export function parseRetryAfter(value: string | undefined, clock: Clock): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - clock.now().getTime());
}
