// Salesforce answers and transport failures → RotatorError, in one place (house-style 4.5). Messages are one
// line: "<step>: <METHOD> <path> → HTTP <status> <errorCode>: <our explanation>". They never quote a response
// body (error_description and REST `message` texts are not echoed: only error codes that look like codes) and
// never a secret. Paths carry ids only, never a query string.
//
// Non-idempotent calls (POST staged, PATCH rotate) whose outcome is unknown — the request may have reached
// Salesforce but no usable answer came back — get context.uncertain = true and retryable = false: the caller
// must re-read the state before doing anything else.
import type { z } from "zod";
import { type ErrorCode, RotatorError } from "../../core/errors.ts";
import { isNotSentCode, isTlsErrorCode, safeOrigin, transportErrorCode } from "../http/transport-errors.ts";
import { RestErrorSchema, TokenErrorSchema } from "./salesforce-schemas.ts";

/** What an error may say about the call that failed. */
export interface SalesforceCall {
  /** The client step, e.g. "create staged", "token", "verify pair". */
  readonly step: string;
  readonly method: string;
  /** Path without a query string. */
  readonly path: string;
  /** False for POST staged and PATCH rotate: failures after sending are then uncertain. */
  readonly idempotent: boolean;
}

/** OAuth error codes look like `invalid_client_id`, REST ones like `INVALID_SESSION_ID`: anything else is hidden. */
const OAUTH_CODE = /^[a-z][a-z0-9_]{1,63}$/;
const REST_CODE = /^[A-Z][A-Z0-9_]{1,63}$/;

/** Why a token request was refused, from Salesforce's fixed description texts (never echoed themselves). */
export type TokenRefusal =
  | "invalid_client_id"
  | "invalid_client"
  | "login_rate_exceeded"
  | "no_run_as_user"
  | "not_my_domain"
  | "invalid_grant"
  | "other";

const UNCERTAIN_NOTE = "the call may have taken effect; re-read the state before trying again";

function describe(call: SalesforceCall, status: number | undefined, errorCode: string | undefined): string {
  const answer = status === undefined ? "" : ` → HTTP ${status}${errorCode ? ` ${errorCode}` : ""}`;
  return `${call.step}: ${call.method} ${call.path}${answer}`;
}

function build(
  code: ErrorCode,
  call: SalesforceCall,
  status: number | undefined,
  errorCode: string | undefined,
  detail: string,
  opts: { retryable: boolean; uncertain?: boolean; context?: Record<string, string | number | undefined> },
  cause?: unknown,
): RotatorError {
  const uncertain = opts.uncertain ?? false;
  const message = `${describe(call, status, errorCode)}: ${detail}${uncertain ? `; ${UNCERTAIN_NOTE}` : ""}`;
  return new RotatorError(code, message, {
    retryable: uncertain ? false : opts.retryable,
    context: {
      step: call.step,
      method: call.method,
      path: call.path,
      status,
      errorCode,
      ...(uncertain ? { uncertain: true } : {}),
      ...opts.context,
    },
    ...(cause === undefined ? {} : { cause }),
  });
}

function safeCode(raw: string | undefined, pattern: RegExp): string | undefined {
  if (raw === undefined) return undefined;
  return pattern.test(raw) ? raw : "(unrecognised error code)";
}

/** Which known refusal a token-endpoint error is; descriptions are matched, never repeated. */
function tokenRefusal(error: string, description: string | undefined): TokenRefusal {
  if (error === "invalid_client_id" || error === "invalid_client") return error;
  const d = (description ?? "").toLowerCase();
  if (d.includes("login rate exceeded") || error === "rate_limit_exceeded") return "login_rate_exceeded";
  if (error !== "invalid_grant") return "other";
  if (d.includes("no client credentials user")) return "no_run_as_user";
  if (d.includes("not supported on this domain")) return "not_my_domain";
  return "invalid_grant";
}

const REFUSAL_TEXT: Record<TokenRefusal, string> = {
  invalid_client_id:
    "Salesforce does not know this consumer key (never existed, deleted, rotated away, or not yet propagated)",
  invalid_client: "Salesforce refused the consumer secret for this consumer key",
  login_rate_exceeded: "the login rate limit for the app's user is exhausted; wait before logging in again",
  no_run_as_user: "the app has no Run As user for the client credentials flow",
  not_my_domain: "client credentials must be requested from the org's My Domain URL, not a login host",
  invalid_grant: "Salesforce refused the grant",
  other: "Salesforce refused the token request",
};

/** A non-2xx answer of /services/oauth2/token. */
export function errorFromTokenAnswer(call: SalesforceCall, status: number, body: unknown): RotatorError {
  if (status >= 500) return unavailableAnswer(call, status, undefined);
  const parsed = TokenErrorSchema.safeParse(body);
  if (!parsed.success) {
    const rest = RestErrorSchema.safeParse(body);
    if (rest.success) return errorFromRestAnswer(call, status, body);
    return unexpectedResponse(call, status, "the token endpoint answered without an OAuth error body");
  }
  const { error, error_description } = parsed.data;
  const reason = tokenRefusal(error, error_description);
  const errorCode = safeCode(error, OAUTH_CODE);
  const context = { reason };
  if (reason === "login_rate_exceeded") {
    return build("SALESFORCE_RATE_LIMITED", call, status, errorCode, REFUSAL_TEXT[reason], {
      retryable: true,
      context,
    });
  }
  return build("SALESFORCE_AUTH_FAILED", call, status, errorCode, REFUSAL_TEXT[reason], {
    retryable: false,
    context,
  });
}

/** A non-2xx answer of a REST / Connect REST resource (or userinfo). */
export function errorFromRestAnswer(call: SalesforceCall, status: number, body: unknown): RotatorError {
  const parsed = RestErrorSchema.safeParse(body);
  const raw = parsed.success ? parsed.data[0]?.errorCode : undefined;
  const errorCode = safeCode(raw, REST_CODE);
  if (status >= 500) return unavailableAnswer(call, status, errorCode);
  if (status === 429 || raw === "REQUEST_LIMIT_EXCEEDED") {
    return build(
      "SALESFORCE_RATE_LIMITED",
      call,
      status,
      errorCode,
      "the org's API request limit is exhausted",
      { retryable: true },
    );
  }
  if (!parsed.success) {
    return unexpectedResponse(call, status, "the answer is not a Salesforce error body");
  }
  switch (status) {
    case 401:
      return build(
        "SALESFORCE_SESSION_EXPIRED",
        call,
        status,
        errorCode,
        "Salesforce refused the session (after a fresh login too: does the token have the api scope?)",
        { retryable: false },
      );
    case 403:
      return build(
        "SALESFORCE_NOT_ENABLED",
        call,
        status,
        errorCode,
        "refused: check the org setting 'Allow access to External Client App consumer secrets via REST API' " +
          "and the Run As user's permissions (External Client App Developer, View Client Secret)",
        { retryable: false },
      );
    case 404:
    case 410:
      return build("SALESFORCE_NOT_FOUND", call, status, errorCode, "no such resource", { retryable: false });
    case 409:
      return build(
        "SALESFORCE_STAGED_CONFLICT",
        call,
        status,
        errorCode,
        call.method === "POST"
          ? "a staged credential set already exists for this consumer; delete it before staging another"
          : "the staged set is not in a state that allows this (only active sets can be rotated)",
        { retryable: false },
      );
    default:
      return build(
        "SALESFORCE_UNEXPECTED_RESPONSE",
        call,
        status,
        errorCode,
        "Salesforce refused the request",
        {
          retryable: false,
        },
      );
  }
}

function unavailableAnswer(
  call: SalesforceCall,
  status: number,
  errorCode: string | undefined,
): RotatorError {
  return build("SALESFORCE_UNAVAILABLE", call, status, errorCode, "Salesforce is unavailable", {
    retryable: true,
    uncertain: !call.idempotent,
  });
}

/** A body that is not what the schema says (HTML page, truncated JSON, missing field, unknown state). */
export function unexpectedResponse(
  call: SalesforceCall,
  status: number,
  detail: string,
  opts: { uncertain?: boolean } = {},
): RotatorError {
  return build("SALESFORCE_UNEXPECTED_RESPONSE", call, status, undefined, detail, {
    retryable: false,
    uncertain: opts.uncertain ?? false,
  });
}

/** Issue paths and codes only: zod issues can quote input values, which may be secret. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join(".") || "(body)"}: ${i.code}`)
    .join("; ");
}

/** A failure without an HTTP answer (refused, reset, timed out, TLS). */
export function errorFromTransport(call: SalesforceCall, address: string, err: unknown): RotatorError {
  const code = transportErrorCode(err) ?? "UNKNOWN";
  const where = safeOrigin(address);
  if (isTlsErrorCode(code)) {
    return build(
      "SALESFORCE_UNAVAILABLE",
      call,
      undefined,
      undefined,
      `TLS handshake with ${where} failed (${code})`,
      { retryable: false, context: { transportCode: code } },
      err,
    );
  }
  return build(
    "SALESFORCE_UNAVAILABLE",
    call,
    undefined,
    undefined,
    `no answer from ${where} (${code})`,
    {
      retryable: true,
      uncertain: !call.idempotent && !isNotSentCode(code),
      context: { transportCode: code },
    },
    err,
  );
}
