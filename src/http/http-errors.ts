// The one error shape of the HTTP API: {"error":{"code","message","requestId"}}. Codes are a closed set
// clients can switch on. Messages are fixed public words chosen here: never an exception's own message (an
// unknown error could carry a secret) and never an echo of the request (paths, bodies, headers).
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from "fastify";

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
  reply: FastifyReply,
  status: number,
  code: HttpErrorCode,
  message: string,
  extra: { readonly rotationId?: string | undefined } = {},
): FastifyReply {
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

// Fastify's own errors, by code, with our words (theirs can quote the body, e.g. a JSON.parse message).
const FRAMEWORK_ERRORS: Readonly<Record<string, MappedError>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: {
    status: 400,
    code: "BAD_REQUEST",
    message: "request body is not valid JSON",
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: "BAD_REQUEST", message: "request body is empty" },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    status: 413,
    code: "PAYLOAD_TOO_LARGE",
    message: "request body is too large",
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: "UNSUPPORTED_MEDIA_TYPE",
    message: "request body must be application/json",
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    code: "BAD_REQUEST",
    message: "content-length does not match the body",
  },
  FST_ERR_BAD_URL: { status: 400, code: "BAD_REQUEST", message: "request URL is not valid" },
  FST_ERR_ASYNC_CONSTRAINT: { status: 400, code: "BAD_REQUEST", message: "request could not be routed" },
};

const INTERNAL: MappedError = { status: 500, code: "INTERNAL", message: "internal error" };

/**
 * Any error reaching the error handler → status, code and public message. Fastify's known errors map by
 * code; other 4xx errors raised by fastify become a plain BAD_REQUEST; everything else is INTERNAL, and a
 * retryable error (an upstream such as Vault being away) is UNAVAILABLE. The error's message is never used.
 */
export function mapError(err: unknown): MappedError {
  const code = stringField(err, "code");
  const known = code === undefined ? undefined : FRAMEWORK_ERRORS[code];
  if (known !== undefined) return known;
  const status = numberField(err, "statusCode");
  if (code?.startsWith("FST_") && status !== undefined && status >= 400 && status < 500) {
    return { status: 400, code: "BAD_REQUEST", message: "request is not valid" };
  }
  if (booleanField(err, "retryable") === true) {
    return { status: 503, code: "UNAVAILABLE", message: "a backing service is unavailable; try again later" };
  }
  return INTERNAL;
}

function stringField(value: unknown, key: string): string | undefined {
  const v = field(value, key);
  return typeof v === "string" ? v : undefined;
}

function numberField(value: unknown, key: string): number | undefined {
  const v = field(value, key);
  return typeof v === "number" ? v : undefined;
}

function booleanField(value: unknown, key: string): boolean | undefined {
  const v = field(value, key);
  return typeof v === "boolean" ? v : undefined;
}

function field(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

// Fastify answers an unregistered method with 404; for our own URLs we say 405 and list what is allowed,
// by registering the remaining methods on the same URL with this handler.
const METHODS: readonly HTTPMethods[] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/**
 * Registers a 405 handler for every method of METHODS not in `registered` (HEAD comes with GET).
 * `allowFor` names the allowed methods for one request when they depend on the path (default: registered).
 */
export function refuseOtherMethods(
  app: FastifyInstance,
  url: string,
  registered: readonly HTTPMethods[],
  allowFor: (request: FastifyRequest) => readonly HTTPMethods[] = () => registered,
): void {
  const taken = withHead(registered);
  app.route({
    method: METHODS.filter((m) => !taken.includes(m)),
    url,
    handler: (request, reply) => replyMethodNotAllowed(reply, allowFor(request)),
  });
}

export function replyMethodNotAllowed(reply: FastifyReply, allowed: readonly HTTPMethods[]): FastifyReply {
  const allow = withHead(allowed).join(", ");
  reply.header("allow", allow);
  return sendError(reply, 405, "METHOD_NOT_ALLOWED", `method not allowed here; use ${allow}`);
}

function withHead(methods: readonly HTTPMethods[]): readonly HTTPMethods[] {
  return methods.includes("GET") && !methods.includes("HEAD") ? [...methods, "HEAD"] : methods;
}
