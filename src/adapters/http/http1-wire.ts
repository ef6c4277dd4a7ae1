// HTTP/1.1 on the wire, for the outbound client (http-client.ts): the request head it writes and a strict,
// incremental parser of the answer it reads. No I/O here: bytes in, events out, so every rule is tested on its own.
//
// The parser accepts what RFC 9112 allows a server to send and refuses the rest instead of guessing, because a
// framing mistake on a kept-alive connection would hand one request's answer to the next request. Refused, and
// the connection closed: obs-fold, whitespace before a colon, bare CR or LF, control characters in a value, a
// Transfer-Encoding other than exactly "chunked", Transfer-Encoding together with Content-Length, more than one
// Content-Length, a 101 (nothing here asks to switch protocols), a head over 16 KiB (Node's own default)
// and a chunk line over 4 KiB. Framing, in RFC order: no body for HEAD, 1xx, 204 and 304; chunked; Content-Length;
// otherwise the body runs to the end of the connection, which is then not reused.
import type { IncomingHttpHeaders } from "node:http";

/** A malformed answer (or a request this client refuses to write); the connection is not reused after it. */
export class HttpWireError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = "HttpWireError";
    this.code = code;
  }
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Field values: visible ASCII, space, tab and obs-text; no CR, LF, NUL or other control characters. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** An origin-form request target: visible ASCII only (a URL's pathname and search always are). */
const REQUEST_TARGET = /^\/[\x21-\x7e]*$/;
const BODY_METHODS: ReadonlySet<string> = new Set(["POST", "PUT", "PATCH"]);
/** Set by this client from the request itself: a caller must not be able to change the framing. */
const FRAMING_HEADERS: ReadonlySet<string> = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
]);

export interface RequestHead {
  readonly method: string;
  /** pathname + search, as URL gives them. */
  readonly target: string;
  /** URL's host: the name or bracketed address, and the port when not the scheme's default. */
  readonly host: string;
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** The body's length in bytes, when there is a body. */
  readonly contentLength?: number | undefined;
  /** false: ask the server to close the connection after this answer. */
  readonly keepAlive: boolean;
}

/**
 * The request line and header block, ending with the empty line. Throws HttpWireError for a method, target or
 * header Node would refuse too; the message names the header, never its value.
 */
export function requestHead(head: RequestHead): string {
  if (!TOKEN.test(head.method))
    throw new HttpWireError("ERR_INVALID_HTTP_TOKEN", "the method is not a token");
  if (!REQUEST_TARGET.test(head.target)) {
    throw new HttpWireError("ERR_UNESCAPED_CHARACTERS", "the request path contains unescaped characters");
  }
  let out = `${head.method} ${head.target} HTTP/1.1\r\nHost: ${head.host}\r\n`;
  const headers = head.headers ?? {};
  const seen = new Set<string>();
  for (const name of Object.keys(headers)) {
    const value: unknown = headers[name];
    if (!TOKEN.test(name)) throw new HttpWireError("ERR_INVALID_HTTP_TOKEN", "a header name is not a token");
    const lower = name.toLowerCase();
    if (FRAMING_HEADERS.has(lower)) {
      throw new HttpWireError("ERR_INVALID_ARG_VALUE", `the "${name}" header is set by the HTTP client`);
    }
    if (seen.has(lower))
      throw new HttpWireError("ERR_INVALID_ARG_VALUE", `the "${name}" header is given twice`);
    seen.add(lower);
    if (typeof value !== "string") {
      throw new HttpWireError("ERR_HTTP_INVALID_HEADER_VALUE", `Invalid value for header ["${name}"]`);
    }
    if (!FIELD_VALUE.test(value)) {
      throw new HttpWireError("ERR_INVALID_CHAR", `Invalid character in header content ["${name}"]`);
    }
    out += `${name}: ${value}\r\n`;
  }
  // A POST, PUT or PATCH without a body says so, as node:http did (some front ends refuse it otherwise: 411).
  const length = head.contentLength ?? (BODY_METHODS.has(head.method) ? 0 : undefined);
  if (length !== undefined) out += `Content-Length: ${length}\r\n`;
  return `${out}Connection: ${head.keepAlive ? "keep-alive" : "close"}\r\n\r\n`;
}

interface ResponseHeadInfo {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
}

export interface ParserEvents {
  /** The final (non-1xx) status and headers; body chunks follow. */
  head(head: ResponseHeadInfo): void;
  /** A slice of the body (a view into the fed buffer: copy it to keep it past the call). */
  body(chunk: Buffer): void;
  /** The answer ended. `reusable`: the connection may carry another request. */
  end(reusable: boolean): void;
}

const MAX_HEAD_BYTES = 16 * 1024;
const MAX_CHUNK_LINE_BYTES = 4 * 1024;
const MAX_HEADERS = 256;
/** 2^53 - 1 has 16 decimal digits and 14 hex digits: anything longer cannot be a length we can count. */
const MAX_DECIMAL_DIGITS = 15;
const MAX_HEX_DIGITS = 13;

/** Repeats of these keep the first value, as Node's IncomingMessage does; set-cookie becomes a list. */
const SINGLE_VALUED: ReadonlySet<string> = new Set([
  "age",
  "authorization",
  "content-length",
  "content-type",
  "etag",
  "expires",
  "from",
  "host",
  "if-modified-since",
  "if-unmodified-since",
  "last-modified",
  "location",
  "max-forwards",
  "proxy-authorization",
  "referer",
  "retry-after",
  "server",
  "user-agent",
]);

/** Where the parser is in the answer. */
const State = {
  Head: 0,
  Length: 1,
  ChunkLine: 2,
  ChunkData: 3,
  ChunkEnd: 4,
  Trailers: 5,
  UntilClose: 6,
  Done: 7,
} as const;
type State = (typeof State)[keyof typeof State];

/**
 * One answer, fed as it arrives. `feed` and `eof` throw HttpWireError on a malformed answer; after that, and
 * after `end`, the parser takes nothing more.
 */
export class ResponseParser {
  readonly #events: ParserEvents;
  /** The request was HEAD: the answer has no body whatever its headers say. */
  readonly #headRequest: boolean;
  #state: State = State.Head;
  /** Bytes of an unfinished head, chunk line or trailer block. */
  #pending: Buffer | undefined;
  #remaining = 0;
  #keepAlive = true;
  #trailerBytes = 0;
  /** `end` was called. */
  #reported = false;
  #sawBytes = false;

  constructor(events: ParserEvents, headRequest: boolean) {
    this.#events = events;
    this.#headRequest = headRequest;
  }

  /** True while no byte of the answer has been seen (not even of a 1xx): closed now, it closed before answering. */
  get untouched(): boolean {
    return !this.#sawBytes;
  }

  /**
   * The answer's bytes. The end is reported once the fed bytes are used up: bytes after the end in the same read
   * mean the server framed the answer differently from how it was read (a wrong Content-Length, a second answer
   * nobody asked for), so the answer is refused rather than handed over.
   */
  feed(chunk: Buffer): void {
    if (chunk.length > 0) this.#sawBytes = true;
    let at = 0;
    while (at < chunk.length) {
      switch (this.#state) {
        case State.Head:
          at = this.#head(chunk, at);
          break;
        case State.Length:
          at = this.#counted(chunk, at);
          if (this.#remaining === 0) this.#finish();
          break;
        case State.ChunkLine:
          at = this.#chunkLine(chunk, at);
          break;
        case State.ChunkData:
          at = this.#counted(chunk, at);
          if (this.#remaining === 0) this.#state = State.ChunkEnd;
          break;
        case State.ChunkEnd:
          at = this.#chunkEnd(chunk, at);
          break;
        case State.Trailers:
          at = this.#trailers(chunk, at);
          break;
        case State.UntilClose:
          this.#events.body(at === 0 ? chunk : chunk.subarray(at));
          at = chunk.length;
          break;
        case State.Done:
          throw new HttpWireError("HPE_EXTRA_BYTES", "bytes followed the end of the answer");
      }
    }
    if (this.#state === State.Done && !this.#reported) {
      this.#reported = true;
      this.#events.end(this.#keepAlive);
    }
  }

  /** The peer closed the connection: ends a body that runs to the close, refuses an unfinished answer. */
  eof(): void {
    if (this.#state === State.UntilClose) {
      this.#state = State.Done;
      this.#reported = true;
      this.#events.end(false);
      return;
    }
    if (this.#state !== State.Done) {
      throw new HttpWireError("ECONNRESET", "the connection closed before the answer ended");
    }
  }

  /** Hands over body bytes of a known length (the Content-Length, or a chunk's size), as many as this read has. */
  #counted(chunk: Buffer, at: number): number {
    const take = Math.min(this.#remaining, chunk.length - at);
    this.#remaining -= take;
    this.#events.body(chunk.subarray(at, at + take));
    return at + take;
  }

  /** The answer is complete; feed reports it once the rest of the read is known to be empty. */
  #finish(): void {
    this.#state = State.Done;
  }

  /** Collects bytes up to the CRLF CRLF that ends a head (or a trailer block), within `limit`. */
  #collect(
    chunk: Buffer,
    at: number,
    terminator: string,
    limit: number,
  ): { block: Buffer; next: number } | undefined {
    const pending = this.#pending;
    // Search the joined bytes, so a terminator split across two reads is found.
    const joined = pending === undefined ? chunk.subarray(at) : Buffer.concat([pending, chunk.subarray(at)]);
    const end = joined.indexOf(
      terminator,
      Math.max(0, (pending?.length ?? 0) - terminator.length + 1),
      "latin1",
    );
    if (end < 0) {
      if (joined.length > limit)
        throw new HttpWireError("HPE_HEADER_OVERFLOW", "the answer's head is too large");
      this.#pending = Buffer.from(joined);
      return undefined;
    }
    if (end + terminator.length > limit) {
      throw new HttpWireError("HPE_HEADER_OVERFLOW", "the answer's head is too large");
    }
    this.#pending = undefined;
    return { block: joined.subarray(0, end), next: at + end + terminator.length - (pending?.length ?? 0) };
  }

  #head(chunk: Buffer, at: number): number {
    const found = this.#collect(chunk, at, "\r\n\r\n", MAX_HEAD_BYTES);
    if (found === undefined) return chunk.length;
    const lines = found.block.toString("latin1").split("\r\n");
    const status = /^HTTP\/1\.([01]) ([1-9][0-9][0-9])(?: [\t\x20-\x7e\x80-\xff]*)?$/.exec(lines[0] ?? "");
    if (status === null)
      throw new HttpWireError("HPE_INVALID_STATUS", "the answer's status line is malformed");
    const statusCode = Number(status[2]);
    const headers = parseFields(lines, 1);
    if (statusCode < 200) {
      if (statusCode === 101) throw new HttpWireError("HPE_INVALID_STATUS", "the server switched protocols");
      // An interim answer (100 Continue, 103 Early Hints): the real one follows.
      return found.next;
    }
    const connection = tokens(headers["connection"]);
    this.#keepAlive = status[1] === "1" ? !connection.includes("close") : connection.includes("keep-alive");
    const te = headers["transfer-encoding"];
    const cl = headers["content-length"];
    // HTTP/1.0 has no chunked coding: an answer that claims it is framed by a guess, so its connection ends.
    if (status[1] === "0" && te !== undefined) this.#keepAlive = false;
    // The framing is settled (or the answer refused) before the head is handed over.
    let next: State;
    if (this.#headRequest || statusCode === 204 || statusCode === 304) {
      next = State.Done;
    } else if (te !== undefined) {
      if (cl !== undefined) {
        throw new HttpWireError(
          "HPE_UNEXPECTED_CONTENT_LENGTH",
          "the answer has both Transfer-Encoding and Content-Length",
        );
      }
      const codings = tokens(te);
      if (codings.length !== 1 || codings[0] !== "chunked") {
        throw new HttpWireError(
          "HPE_INVALID_TRANSFER_ENCODING",
          "the answer's Transfer-Encoding is not chunked",
        );
      }
      next = State.ChunkLine;
    } else if (cl !== undefined) {
      this.#remaining = contentLength(cl);
      next = this.#remaining === 0 ? State.Done : State.Length;
    } else {
      this.#keepAlive = false;
      next = State.UntilClose;
    }
    this.#events.head({ statusCode, headers });
    this.#state = next;
    return found.next;
  }

  #chunkLine(chunk: Buffer, at: number): number {
    const found = this.#collect(chunk, at, "\r\n", MAX_CHUNK_LINE_BYTES);
    if (found === undefined) return chunk.length;
    const line = found.block.toString("latin1");
    // chunk-size [ ; extensions ]: the extensions carry nothing this client uses, but must be plain text.
    const m = /^([0-9A-Fa-f]+)[\t ]*(?:;[\t\x20-\x7e\x80-\xff]*)?$/.exec(line);
    if (m === null || (m[1] as string).length > MAX_HEX_DIGITS) {
      throw new HttpWireError("HPE_INVALID_CHUNK_SIZE", "a chunk size line is malformed");
    }
    const size = Number.parseInt(m[1] as string, 16);
    if (size === 0) {
      this.#state = State.Trailers;
      this.#trailerBytes = 0;
    } else {
      this.#remaining = size;
      this.#state = State.ChunkData;
    }
    return found.next;
  }

  #chunkEnd(chunk: Buffer, at: number): number {
    // The CRLF after a chunk's data, possibly split across reads.
    const have = this.#pending === undefined ? 0 : this.#pending.length;
    const need = 2 - have;
    const part = chunk.subarray(at, at + need);
    const both = have === 0 ? part : Buffer.concat([this.#pending as Buffer, part]);
    if (both.length < 2) {
      if (both[0] !== 0x0d)
        throw new HttpWireError("HPE_INVALID_CHUNK_SIZE", "a chunk does not end with CRLF");
      this.#pending = Buffer.from(both);
      return chunk.length;
    }
    if (both[0] !== 0x0d || both[1] !== 0x0a) {
      throw new HttpWireError("HPE_INVALID_CHUNK_SIZE", "a chunk does not end with CRLF");
    }
    this.#pending = undefined;
    this.#state = State.ChunkLine;
    return at + part.length;
  }

  #trailers(chunk: Buffer, at: number): number {
    // Trailer fields end with an empty line; none is used, but each must be a well-formed field.
    const found = this.#collect(chunk, at, "\r\n", MAX_HEAD_BYTES - this.#trailerBytes);
    if (found === undefined) return chunk.length;
    this.#trailerBytes += found.block.length + 2;
    if (found.block.length === 0) {
      this.#finish();
      return found.next;
    }
    parseFields(["", found.block.toString("latin1")], 1);
    return found.next;
  }
}

/** Header lines from `from` on, as Node's IncomingMessage shows them (lower-case names, repeats merged). */
function parseFields(lines: readonly string[], from: number): IncomingHttpHeaders {
  if (lines.length - from > MAX_HEADERS)
    throw new HttpWireError("HPE_HEADER_OVERFLOW", "the answer has too many headers");
  // No prototype: a header named __proto__ is just a header.
  const headers = Object.create(null) as Record<string, string | string[]>;
  for (let i = from; i < lines.length; i++) {
    const line = lines[i] as string;
    const colon = line.indexOf(":");
    // No whitespace before the colon, no folded continuation lines (RFC 9112 section 5).
    if (colon <= 0 || !TOKEN.test(line.slice(0, colon))) {
      throw new HttpWireError("HPE_INVALID_HEADER_TOKEN", "a header line of the answer is malformed");
    }
    const value = line.slice(colon + 1).replace(/^[\t ]+|[\t ]+$/g, "");
    if (!FIELD_VALUE.test(value)) {
      throw new HttpWireError(
        "HPE_INVALID_HEADER_TOKEN",
        "a header value of the answer has a control character",
      );
    }
    const name = line.slice(0, colon).toLowerCase();
    const known = headers[name];
    if (known === undefined) headers[name] = name === "set-cookie" ? [value] : value;
    else if (name === "set-cookie") (known as string[]).push(value);
    else if (name === "content-length" || name === "transfer-encoding") headers[name] = `${known}, ${value}`;
    else if (!SINGLE_VALUED.has(name)) headers[name] = `${known}, ${value}`;
  }
  return headers as IncomingHttpHeaders;
}

/** A comma-separated header's items, trimmed and lower-cased ("Keep-Alive, Upgrade" → keep-alive, upgrade). */
function tokens(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const text = Array.isArray(value) ? value.join(",") : value;
  return text
    .split(",")
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== "");
}

/** Content-Length: digits only, and only one (repeats, even equal ones, are refused, as llhttp does). */
function contentLength(value: string | string[]): number {
  const text = Array.isArray(value) ? value.join(",") : value;
  if (!/^[0-9]+$/.test(text) || text.length > MAX_DECIMAL_DIGITS) {
    throw new HttpWireError("HPE_INVALID_CONTENT_LENGTH", "the answer's Content-Length is malformed");
  }
  return Number(text);
}
