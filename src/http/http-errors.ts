// The one error shape of the HTTP API: {"error":{"code","message","requestId"}}. Codes are a closed set
// clients can switch on (HTTP_ERROR_CODES in http-router.ts). Messages are fixed public words chosen here: never an exception's own message (an
// unknown error could carry a secret) and never an echo of the request (paths, bodies, headers).
import {
  HTTP_METHODS,
  HttpError,
  type HttpErrorCode,
  type HttpMethod,
  type HttpReply,
  type HttpRequest,
  type Router,
} from "./http-router.ts";

interface HttpErrorBody {
  readonly error: {
    readonly code: HttpErrorCode;
    readonly message: string;
    readonly requestId: string;
    /** Only on CONFLICT: the rotation already running, when known. */
    readonly rotationId?: string;
  };
}

export function sendError(
  reply: HttpReply,
  status: number,
  code: HttpErrorCode,
  message: string,
  extra: { readonly rotationId?: string | undefined } = {},
): HttpReply {
  const body: HttpErrorBody = {
    error: {
      code,
      message,
      requestId: reply.request.id,
      ...(extra.rotationId === undefined ? {} : { rotationId: extra.rotationId }),
    },
  };
  return reply.code(status).type("application/json; charset=utf-8").send(body);
}

export interface MappedError {
  readonly status: number;
  readonly code: HttpErrorCode;
  readonly message: string;
}

const INTERNAL: MappedError = { status: 500, code: "INTERNAL", message: "internal error" };

/**
 * Any error reaching the error handler → status, code and public message. A refusal of the HTTP layer itself
 * (HttpError: a bad URL, body or content type) keeps its own; a retryable error (an upstream such as Vault
 * being away) is UNAVAILABLE; everything else is INTERNAL. Another error's message is never used.
 */
export function mapError(err: unknown): MappedError {
  if (err instanceof HttpError) return { status: err.status, code: err.code, message: err.message };
  if (booleanField(err, "retryable") === true) {
    return { status: 503, code: "UNAVAILABLE", message: "a backing service is unavailable; try again later" };
  }
  return INTERNAL;
}

function booleanField(value: unknown, key: string): boolean | undefined {
  const v = field(value, key);
  return typeof v === "boolean" ? v : undefined;
}

function field(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

// A known URL answers a method it does not take with 405 and lists what it takes; the remaining methods are
// registered on the same URL with this handler.

/**
 * Registers a 405 handler for every method of HTTP_METHODS not in `registered` (HEAD comes with GET).
 * `allowFor` names the allowed methods for one request when they depend on the path (default: registered).
 */
export function refuseOtherMethods(
  app: Router,
  url: string,
  registered: readonly HttpMethod[],
  allowFor: (request: HttpRequest) => readonly HttpMethod[] = () => registered,
): void {
  const taken = withHead(registered);
  app.route(
    HTTP_METHODS.filter((m) => !taken.includes(m)),
    url,
    (request, reply) => replyMethodNotAllowed(reply, allowFor(request)),
  );
}

export function replyMethodNotAllowed(reply: HttpReply, allowed: readonly HttpMethod[]): HttpReply {
  const allow = withHead(allowed).join(", ");
  reply.header("allow", allow);
  return sendError(reply, 405, "METHOD_NOT_ALLOWED", `method not allowed here; use ${allow}`);
}

function withHead(methods: readonly HttpMethod[]): readonly HttpMethod[] {
  return methods.includes("GET") && !methods.includes("HEAD") ? [...methods, "HEAD"] : methods;
}
