import { describe, expect, it } from "vitest";
import {
  errorFromRestAnswer,
  errorFromTokenAnswer,
  errorFromTransport,
  type SalesforceCall,
} from "../../../src/adapters/salesforce/salesforce-http.ts";

const read: SalesforceCall = {
  step: "list staged",
  method: "GET",
  path: "/services/data/v65.0/x",
  idempotent: true,
};
const post: SalesforceCall = {
  step: "create staged",
  method: "POST",
  path: "/services/data/v65.0/x",
  idempotent: false,
};
const token: SalesforceCall = {
  step: "login",
  method: "POST",
  path: "/services/oauth2/token",
  idempotent: true,
};

const oauth = (error: string, error_description: string) => ({ error, error_description });
const rest = (errorCode: string, message = "text") => [{ errorCode, message }];

describe("token endpoint answers", () => {
  it.each([
    [
      oauth("invalid_client_id", "client identifier invalid"),
      "SALESFORCE_AUTH_FAILED",
      false,
      "invalid_client_id",
    ],
    [
      oauth("invalid_client", "invalid client credentials"),
      "SALESFORCE_AUTH_FAILED",
      false,
      "invalid_client",
    ],
    [oauth("invalid_grant", "login rate exceeded"), "SALESFORCE_RATE_LIMITED", true, "login_rate_exceeded"],
    [
      oauth("invalid_grant", "no client credentials user enabled"),
      "SALESFORCE_AUTH_FAILED",
      false,
      "no_run_as_user",
    ],
    [
      oauth("invalid_grant", "request not supported on this domain"),
      "SALESFORCE_AUTH_FAILED",
      false,
      "not_my_domain",
    ],
    [oauth("invalid_grant", "authentication failure"), "SALESFORCE_AUTH_FAILED", false, "invalid_grant"],
    [oauth("unsupported_grant_type", "x"), "SALESFORCE_AUTH_FAILED", false, "other"],
  ])("maps %j to %s (retryable %s, reason %s)", (body, code, retryable, reason) => {
    const err = errorFromTokenAnswer(token, 400, body);
    expect(err.code).toBe(code);
    expect(err.retryable).toBe(retryable);
    expect(err.context["reason"]).toBe(reason);
    expect(err.message).toMatch(/^login: POST \/services\/oauth2\/token → HTTP 400 [a-z_]+: /);
    expect(err.message).not.toContain(body.error_description);
  });

  it("treats a 5xx as unavailable and an HTML page as unexpected", () => {
    expect(errorFromTokenAnswer(token, 503, undefined).code).toBe("SALESFORCE_UNAVAILABLE");
    expect(errorFromTokenAnswer(token, 400, undefined).code).toBe("SALESFORCE_UNEXPECTED_RESPONSE");
  });
});

describe("REST answers", () => {
  it.each([
    [401, rest("INVALID_SESSION_ID"), "SALESFORCE_SESSION_EXPIRED", false],
    [403, rest("REQUEST_LIMIT_EXCEEDED"), "SALESFORCE_RATE_LIMITED", true],
    [403, rest("FUNCTIONALITY_NOT_ENABLED"), "SALESFORCE_NOT_ENABLED", false],
    [403, rest("INSUFFICIENT_ACCESS"), "SALESFORCE_NOT_ENABLED", false],
    [404, rest("NOT_FOUND"), "SALESFORCE_NOT_FOUND", false],
    [409, rest("INVALID_OPERATION"), "SALESFORCE_STAGED_CONFLICT", false],
    [400, rest("INVALID_INPUT"), "SALESFORCE_UNEXPECTED_RESPONSE", false],
    [500, rest("UNKNOWN_EXCEPTION"), "SALESFORCE_UNAVAILABLE", true],
    [503, undefined, "SALESFORCE_UNAVAILABLE", true],
    [404, undefined, "SALESFORCE_UNEXPECTED_RESPONSE", false],
  ])("maps HTTP %i %j to %s", (status, body, code, retryable) => {
    const err = errorFromRestAnswer(read, status, body);
    expect(err.code).toBe(code);
    expect(err.retryable).toBe(retryable);
    expect(err.context["status"]).toBe(status);
    expect(err.context["uncertain"]).toBeUndefined();
    expect(err.message).not.toContain("text");
  });

  it("flags a 5xx on a non-idempotent call as uncertain and not blindly retryable", () => {
    const err = errorFromRestAnswer(post, 502, undefined);
    expect(err.code).toBe("SALESFORCE_UNAVAILABLE");
    expect(err.retryable).toBe(false);
    expect(err.context["uncertain"]).toBe(true);
    expect(err.message).toMatch(/re-read the state/);
  });

  it("hides error codes that do not look like codes", () => {
    const err = errorFromRestAnswer(read, 403, rest("test-secret-canary"));
    expect(err.message).not.toContain("canary");
    expect(err.context["errorCode"]).toBe("(unrecognised error code)");
  });
});

describe("transport failures", () => {
  it("marks a reset after sending a POST as uncertain, a refused connection as certain", () => {
    const reset = errorFromTransport(post, "http://127.0.0.1:1/x", { code: "UND_ERR_SOCKET" });
    expect(reset.context["uncertain"]).toBe(true);
    expect(reset.retryable).toBe(false);
    const refused = errorFromTransport(post, "http://127.0.0.1:1/x", { code: "ECONNREFUSED" });
    expect(refused.context["uncertain"]).toBeUndefined();
    expect(refused.retryable).toBe(true);
    expect(refused.message).toBe(
      "create staged: POST /services/data/v65.0/x: no answer from http://127.0.0.1:1 (ECONNREFUSED)",
    );
  });
});
