// The outbound HTTP client every adapter uses (Vault, Salesforce, Marketing Cloud, chat, the audit collector), on
// node:http/node:https with keep-alive agents: a much smaller footprint than a full HTTP library, and all the
// adapters need is one request with its answer streamed.
// - Timeouts per phase: connecting (TCP and TLS), waiting for the answer's headers, and the body going idle. Each
//   fails with its own code; the codes are the ones the adapters (and logs, audit and health) have always shown.
// - Redirects are never followed: a 3xx is an answer like any other.
// - Keep-alive: an idle connection is closed after a few seconds, or sooner when the server's Keep-Alive hint
//   says so, and Node's agent drops a free connection with unread data instead of reusing it. A safe request
//   (GET, HEAD, OPTIONS, LIST) that fails on a reused connection the server had closed, before any answer came,
//   is sent once more on a new connection: a read is harmless to repeat. Any other failure is the adapter's to
//   retry by its own rules.
// - Answers are read with a byte cap: a peer that is broken, hostile or replaced by a proxy's error page must not
//   make the rotator hold an answer of any size. A declared Content-Length above the cap is refused before a byte
//   is read; otherwise bytes are counted as they arrive and the connection is closed the moment the count passes
//   the cap, so at most the cap plus one chunk is ever held. Each adapter turns AnswerTooLargeError into its own
//   error code; the body is never quoted.
// - Errors never carry the URL, its query or a header value: only a code and a fixed text (Node's own connect
//   errors name the host and port, which are not secrets).
import type { ClientRequest, Agent as HttpAgent, IncomingHttpHeaders, IncomingMessage } from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import type { Readable } from "node:stream";
import type { Clock } from "../../core/time.ts";

// Taken with getBuiltinModule, not imported: an ES import of node:http builds its module namespace, which
// reads http's lazy WebSocket getters and so loads Node's bundled undici (about 9 MB resident) for nothing.
const http = process.getBuiltinModule("node:http");

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
  /** Must be read (readCappedText, discardCapped) or destroyed, so the connection is released. */
  readonly body: Readable;
}

/** What an adapter sends through; tests inject one that records every request. */
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

/** The transport an adapter builds when none is injected: `timeoutMs` for every phase, optional TLS material. */
export function createHttpTransport(timeoutMs: number, tls: TransportTls = {}): HttpTransport {
  return new NodeHttpTransport(timeoutMs, tls);
}

class NodeHttpTransport implements HttpTransport {
  readonly #timeoutMs: number;
  readonly #tls: https.AgentOptions;
  readonly #http: HttpAgent;
  readonly #https: https.Agent;
  #inFlight = 0;
  #closed = false;
  #drained: (() => void) | undefined;
  #idle: Promise<void> | undefined;

  constructor(timeoutMs: number, tls: TransportTls) {
    this.#timeoutMs = timeoutMs;
    this.#tls = {
      rejectUnauthorized: tls.rejectUnauthorized ?? true,
      ...(tls.ca && tls.ca.length > 0 ? { ca: [...tls.ca] } : {}),
      ...(tls.cert ? { cert: tls.cert } : {}),
      ...(tls.key ? { key: tls.key } : {}),
      ...(tls.servername ? { servername: tls.servername } : {}),
    };
    this.#http = new http.Agent({ keepAlive: true, timeout: KEEP_ALIVE_IDLE_MS });
    this.#https = new https.Agent({ keepAlive: true, timeout: KEEP_ALIVE_IDLE_MS, ...this.#tls });
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
    this.#inFlight++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      if (--this.#inFlight === 0) this.#drained?.();
    };
    try {
      const res = await this.#send(target, init, true).catch(async (err: unknown) => {
        if (!(err instanceof StaleConnection)) throw err;
        return this.#send(target, init, false);
      });
      res.body.once("close", release);
      return res;
    } catch (err) {
      release();
      throw err;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#inFlight > 0) {
      this.#idle ??= new Promise<void>((resolve) => {
        this.#drained = resolve;
      });
      await this.#idle;
    }
    this.#http.destroy();
    this.#https.destroy();
  }

  /** One attempt. `pooled` false: a connection of its own (the retry after a stale one), closed after use. */
  #send(target: URL, init: HttpRequestInit, pooled: boolean): Promise<HttpResponse> {
    const secure = target.protocol === "https:";
    const phaseMs = init.timeoutMs ?? this.#timeoutMs;
    const signal = init.signal;
    return new Promise<HttpResponse>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const options: https.RequestOptions = {
        protocol: target.protocol,
        hostname: target.hostname.replace(/^\[(.*)\]$/, "$1"),
        port: target.port === "" ? undefined : Number(target.port),
        path: `${target.pathname}${target.search}`,
        method: init.method,
        headers: { ...init.headers },
        agent: pooled ? (secure ? this.#https : this.#http) : false,
        ...(secure && !pooled ? this.#tls : {}),
      };
      let req: ClientRequest;
      try {
        req = (secure ? https : http).request(options);
      } catch (err) {
        // A header value Node refuses: its error names the header, never the value.
        reject(err);
        return;
      }
      let settled = false;
      let socket: Socket | undefined;
      let phaseTimer: NodeJS.Timeout | undefined;
      const connectTimer = setTimeout(() => {
        req.destroy(new HttpClientError(HTTP_CLIENT_CODES.connectTimeout, "connect timeout"));
      }, this.#timeoutMs);
      const onConnected = () => {
        clearTimeout(connectTimer);
        phaseTimer ??= setTimeout(() => {
          req.destroy(new HttpClientError(HTTP_CLIENT_CODES.headersTimeout, "no answer headers in time"));
        }, phaseMs);
      };
      const onAbort = () => req.destroy(signal?.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(connectTimer);
        clearTimeout(phaseTimer);
        socket?.off(secure ? "secureConnect" : "connect", onConnected);
        signal?.removeEventListener("abort", onAbort);
        const code = (err as { code?: unknown } | null)?.code;
        if (pooled && req.reusedSocket && typeof code === "string" && STALE_CODES.has(code)) {
          if (SAFE_METHODS.has(init.method.toUpperCase())) {
            reject(new StaleConnection());
            return;
          }
        }
        reject(err);
      };
      req.on("error", fail);
      req.once("socket", (s: Socket) => {
        socket = s;
        if (req.reusedSocket || (!secure && !s.connecting)) onConnected();
        else s.once(secure ? "secureConnect" : "connect", onConnected);
      });
      req.once("response", (res: IncomingMessage) => {
        if (settled) {
          res.destroy();
          return;
        }
        settled = true;
        clearTimeout(connectTimer);
        clearTimeout(phaseTimer);
        // From here on a failure (abort, idle body, reset) surfaces on the body stream.
        const idle = setTimeout(() => {
          res.destroy(new HttpClientError(HTTP_CLIENT_CODES.bodyTimeout, "the answer's body stalled"));
        }, phaseMs);
        const onData = () => idle.refresh();
        const s = res.socket;
        s?.on("data", onData);
        signal?.removeEventListener("abort", onAbort);
        const onBodyAbort = () => res.destroy(signal?.reason);
        signal?.addEventListener("abort", onBodyAbort, { once: true });
        res.once("close", () => {
          clearTimeout(idle);
          s?.off("data", onData);
          signal?.removeEventListener("abort", onBodyAbort);
        });
        resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: res });
      });
      req.end(init.body);
    });
  }
}

/** Internal: a reused connection the server had closed; the request goes once more on a new one. */
class StaleConnection extends Error {}

// ---- reading an answer with a byte cap --------------------------------------------------------------------

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

type Answer = Pick<HttpResponse, "headers" | "body">;

/** The body as UTF-8 text; AnswerTooLargeError (connection closed) past `maxBytes`. */
export async function readCappedText(res: Answer, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  await consume(res, maxBytes, (chunk) => chunks.push(chunk));
  return Buffer.concat(chunks).toString("utf8");
}

/** Reads and drops the body (so the connection can be reused); AnswerTooLargeError past `maxBytes`. */
export async function discardCapped(res: Answer, maxBytes: number): Promise<void> {
  await consume(res, maxBytes, () => {});
}

function consume(res: Answer, maxBytes: number, keep: (chunk: Buffer) => void): Promise<void> {
  const body = res.body;
  const header = res.headers["content-length"];
  const declared = Number(Array.isArray(header) ? header[0] : header);
  if (header !== undefined && Number.isFinite(declared) && declared > maxBytes) {
    // Destroying the body closes the connection: nobody else listens for its error event.
    body.on("error", () => {});
    body.destroy();
    return Promise.reject(new AnswerTooLargeError(maxBytes));
  }
  if (body.destroyed) return Promise.reject(body.errored ?? prematureClose());
  // Events rather than async iteration: this runs once per Vault read of a scan, and the iterator costs more.
  return new Promise<void>((resolve, reject) => {
    let total = 0;
    let done = false;
    const finish = (err?: unknown) => {
      if (done) return;
      done = true;
      body.off("data", onData);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > maxBytes) {
        finish(new AnswerTooLargeError(maxBytes));
        body.destroy();
        return;
      }
      keep(chunk);
    };
    body.on("data", onData);
    body.once("end", () => finish());
    body.on("error", (err) => finish(err));
    body.once("close", () => {
      if (!done) finish(prematureClose());
    });
  });
}

function prematureClose(): Error {
  return Object.assign(new Error("the answer ended before its body did"), {
    code: "ERR_STREAM_PREMATURE_CLOSE",
  });
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
