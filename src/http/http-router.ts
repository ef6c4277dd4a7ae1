// The HTTP face's small framework on node:http: a request and a reply shaped for the route handlers, a router
// (method + path pattern: static, one ":param" segment, or a final "*" wildcard), and the JSON body reader.
// Paths are matched the way clients write them: the path is decodeURI-decoded (a broken escape is a bad URL),
// so an encoded reserved character such as %2F never splits a segment; a parameter is then fully
// percent-decoded, so ".../a%2F..%2Fb" reaches the route as "a/../b" and the route itself refuses it.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";

export type HttpMethod = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS";

/** The methods a known URL answers with 405 when it does not take them; any other method gets 404. */
export const HTTP_METHODS: readonly HttpMethod[] = [
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "PATCH",
  "DELETE",
  "OPTIONS",
];

/** The error codes of the HTTP API's error shape (http-errors.ts): a closed set clients can switch on. */
const HTTP_ERROR_CODES = [
  "BAD_REQUEST",
  "UNAUTHORIZED",
  "FORBIDDEN",
  "NOT_FOUND",
  "METHOD_NOT_ALLOWED",
  "MISDIRECTED_REQUEST",
  "CONFLICT",
  "PAYLOAD_TOO_LARGE",
  "UNSUPPORTED_MEDIA_TYPE",
  "NOT_ROTATABLE",
  "INTERNAL",
  "NOT_READY",
  "UNAVAILABLE",
] as const;
export type HttpErrorCode = (typeof HTTP_ERROR_CODES)[number];

/** A refusal raised by this layer (routing, body reading): its status, code and public words. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: HttpErrorCode;

  constructor(status: number, code: HttpErrorCode, message: string) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.code = code;
  }
}

export interface HttpRequest {
  /** Generated here for every request; a caller's x-request-id is never used (it ends up in logs). */
  readonly id: string;
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  /** The peer's address (no proxy headers are trusted). */
  readonly ip: string;
  /** The matched route pattern ("/v1/credentials/*"); null when no route matched. */
  readonly route: string | null;
  /** Percent-decoded path parameters by name ("*" for the wildcard). */
  readonly params: Readonly<Record<string, string>>;
  /** The query string: one string per key, or an array when the key repeats. */
  readonly query: Readonly<Record<string, string | string[]>>;
  /** The parsed JSON body (undefined when the request had none); set before the route's handler runs. */
  body: unknown;
}

/** The response being built for one request; send() writes it once, later calls are ignored. */
export class HttpReply {
  statusCode = 200;
  #sent = false;
  readonly #headers = new Map<string, string | string[]>();

  readonly request: HttpRequest;
  readonly #res: ServerResponse;
  /** True once the server closes: the connection then ends with this response. */
  readonly #closing: () => boolean;

  constructor(request: HttpRequest, res: ServerResponse, closing: () => boolean) {
    this.request = request;
    this.#res = res;
    this.#closing = closing;
  }

  get sent(): boolean {
    return this.#sent;
  }

  code(status: number): this {
    this.statusCode = status;
    return this;
  }

  header(name: string, value: string | readonly string[]): this {
    this.#headers.set(name.toLowerCase(), typeof value === "string" ? value : [...value]);
    return this;
  }

  type(contentType: string): this {
    return this.header("content-type", contentType);
  }

  /** A string as is (text/plain unless typed), anything else as JSON, nothing as an empty body. */
  send(payload?: unknown): this {
    if (this.#sent) return this;
    this.#sent = true;
    let body = "";
    if (typeof payload === "string") {
      body = payload;
      if (!this.#headers.has("content-type")) this.type("text/plain; charset=utf-8");
    } else if (payload !== undefined) {
      body = JSON.stringify(payload);
      if (!this.#headers.has("content-type")) this.type("application/json; charset=utf-8");
    }
    if (this.#closing()) this.header("connection", "close");
    for (const [name, value] of this.#headers) this.#res.setHeader(name, value);
    // A 204 has no body and so no length.
    if (this.statusCode !== 204) this.#res.setHeader("content-length", Buffer.byteLength(body));
    this.#res.statusCode = this.statusCode;
    // A HEAD response keeps the headers of its GET; node:http leaves out the body itself.
    this.#res.end(body);
    return this;
  }
}

/** Returns the reply it answered with, or a value sent as JSON with the reply's status (200 unless set). */
export type RouteHandler = (request: HttpRequest, reply: HttpReply) => unknown;

/** Runs before the body is read; when it sends a reply, the request ends there. */
export type RouteHook = (request: HttpRequest, reply: HttpReply) => Promise<unknown> | unknown;

interface Route {
  readonly pattern: string;
  readonly handlers: Map<HttpMethod, { readonly handler: RouteHandler; readonly onRequest?: RouteHook }>;
}

/** A match: the route (its handler may be missing for this method) and the decoded parameters. */
export interface RouteMatch {
  readonly pattern: string;
  readonly params: Readonly<Record<string, string>>;
  readonly handler?: RouteHandler | undefined;
  readonly onRequest?: RouteHook | undefined;
}

export class Router {
  readonly #routes: Route[] = [];

  get(pattern: string, handler: RouteHandler): void {
    this.route(["GET", "HEAD"], pattern, handler);
  }

  post(pattern: string, options: { readonly onRequest?: RouteHook }, handler: RouteHandler): void {
    this.route(["POST"], pattern, handler, options.onRequest);
  }

  route(methods: readonly HttpMethod[], pattern: string, handler: RouteHandler, onRequest?: RouteHook): void {
    let route = this.#routes.find((r) => r.pattern === pattern);
    if (route === undefined) {
      route = { pattern, handlers: new Map() };
      this.#routes.push(route);
      // Static patterns are tried first, then ":param" ones, then wildcards.
      this.#routes.sort((a, b) => specificity(a.pattern) - specificity(b.pattern));
    }
    for (const method of methods) {
      if (route.handlers.has(method)) throw new Error(`route ${method} ${pattern} is registered twice`);
      route.handlers.set(method, { handler, ...(onRequest === undefined ? {} : { onRequest }) });
    }
  }

  /**
   * The route for a path (without its query), or undefined. Static patterns win over parametric ones.
   * Throws HttpError 400 for a path whose percent escapes do not decode.
   */
  find(method: string, rawPath: string): RouteMatch | undefined {
    const path = decodePath(rawPath, decodeURI);
    for (const route of this.#routes) {
      const params = matchPattern(route.pattern, path);
      if (params === undefined) continue;
      const entry = route.handlers.get(method as HttpMethod);
      return { pattern: route.pattern, params, handler: entry?.handler, onRequest: entry?.onRequest };
    }
    return undefined;
  }
}

function specificity(pattern: string): number {
  if (pattern.endsWith("*")) return 2;
  return pattern.includes("/:") ? 1 : 0;
}

function matchPattern(pattern: string, path: string): Record<string, string> | undefined {
  if (pattern.endsWith("*")) {
    const prefix = pattern.slice(0, -1);
    if (!path.startsWith(prefix)) return undefined;
    return { "*": decodePath(path.slice(prefix.length), decodeURIComponent) };
  }
  const want = pattern.split("/");
  const got = path.split("/");
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, part] of want.entries()) {
    const segment = got[i] ?? "";
    if (part.startsWith(":")) {
      // May be empty ("/v1/rotations/"): the route's own check answers it.
      params[part.slice(1)] = decodePath(segment, decodeURIComponent);
    } else if (part !== segment) return undefined;
  }
  return params;
}

function decodePath(text: string, decode: (s: string) => string): string {
  if (!text.includes("%")) return text;
  try {
    return decode(text);
  } catch {
    throw new HttpError(400, "BAD_REQUEST", "request URL is not valid");
  }
}

/** "/a/b?x=1&x=2" → path and query; a fragment is dropped, as is the origin of an absolute-form target. */
export function splitUrl(target: string): { path: string; query: Record<string, string | string[]> } {
  const origin = target.startsWith("/") ? null : /^https?:\/\/[^/?#]+/i.exec(target);
  const rest = origin === null ? target : target.slice(origin[0].length);
  const url = rest.startsWith("/") || origin === null ? rest : `/${rest}`;
  const end = url.search(/[?#]/);
  const path = end < 0 ? url : url.slice(0, end);
  const query: Record<string, string | string[]> = Object.create(null);
  if (end >= 0 && url[end] === "?") {
    const hash = url.indexOf("#", end);
    for (const [key, value] of new URLSearchParams(url.slice(end + 1, hash < 0 ? undefined : hash))) {
      const prior = query[key];
      query[key] = prior === undefined ? value : [...(Array.isArray(prior) ? prior : [prior]), value];
    }
  }
  return { path, query };
}

// JSON bodies only. A body is read for POST, PUT and PATCH; without a content type it must be empty.
const BODYLESS: ReadonlySet<string> = new Set(["GET", "HEAD", "DELETE", "OPTIONS"]);

/**
 * Reads and parses the request body: undefined when there is none; HttpError 415 for a type other than
 * application/json, 413 over `limit` bytes, 400 for an empty or malformed body. Messages never quote the body.
 */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  if (BODYLESS.has(req.method ?? "")) return undefined;
  const type = req.headers["content-type"];
  const length = req.headers["content-length"];
  const chunked = req.headers["transfer-encoding"] !== undefined;
  if (type === undefined) {
    if (!chunked && (length === undefined || length === "0")) return undefined;
    throw new HttpError(415, "UNSUPPORTED_MEDIA_TYPE", "request body must be application/json");
  }
  if (!isJsonType(type)) {
    throw new HttpError(415, "UNSUPPORTED_MEDIA_TYPE", "request body must be application/json");
  }
  if (Number(length) > limit) throw tooLarge();
  const text = await readText(req, limit);
  if (text.length === 0) throw new HttpError(400, "BAD_REQUEST", "request body is empty");
  try {
    return JSON.parse(text, refusePrototypeKeys);
  } catch {
    throw new HttpError(400, "BAD_REQUEST", "request body is not valid JSON");
  }
}

/** application/json, any case, with any parameters (the body is read as UTF-8 whatever a charset says). */
function isJsonType(header: string): boolean {
  return header.split(";")[0]?.trim().toLowerCase() === "application/json";
}

/** A JSON key that could reach an object's prototype is refused outright, as a syntax error. */
function refusePrototypeKeys(key: string, value: unknown): unknown {
  if (key === "__proto__") throw new SyntaxError("forbidden key");
  if (key === "constructor" && typeof value === "object" && value !== null && "prototype" in value) {
    throw new SyntaxError("forbidden key");
  }
  return value;
}

function tooLarge(): HttpError {
  return new HttpError(413, "PAYLOAD_TOO_LARGE", "request body is too large");
}

function readText(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err?: Error) => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onError);
      if (err !== undefined) reject(err);
      else resolve(Buffer.concat(chunks, size).toString("utf8"));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) done(tooLarge());
      else chunks.push(chunk);
    };
    const onEnd = () => done();
    const onError = () => done(new HttpError(400, "BAD_REQUEST", "request body could not be read"));
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onError); // a connection gone before the end of the body
  });
}
