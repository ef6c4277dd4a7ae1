// Error replies in Salesforce's two shapes: REST/Connect `[{message, errorCode}]` and OAuth `{error, error_description}`.
import type { SimReply } from "./sim-http.ts";

export function restError(status: number, errorCode: string, message: string): SimReply {
  return { status, body: [{ message, errorCode }] };
}

export function oauthError(status: number, error: string, description: string): SimReply {
  return { status, body: { error, error_description: description } };
}

export const notFound = (): SimReply => restError(404, "NOT_FOUND", "The requested resource does not exist");

export const invalidSession = (): SimReply =>
  restError(401, "INVALID_SESSION_ID", "Session expired or invalid");

export const limitExceeded = (): SimReply =>
  restError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.");

export const invalidInput = (message: string): SimReply => restError(400, "INVALID_INPUT", message);

export const malformedJson = (): SimReply =>
  restError(400, "JSON_PARSER_ERROR", "The request body is not valid JSON.");

/** What a client sees when the connection is "down for maintenance": HTML, not JSON. */
export function maintenancePage(): SimReply {
  return {
    status: 503,
    headers: { "content-type": "text/html; charset=UTF-8" },
    body:
      "<!DOCTYPE html><html><head><title>Service Unavailable</title></head><body>" +
      "<h1>Service Unavailable</h1><p>This Salesforce instance is down for maintenance " +
      "(simulated fault). Please try again later.</p></body></html>",
  };
}

export const invalidClientId = (): SimReply =>
  oauthError(400, "invalid_client_id", "client identifier invalid");
export const invalidClient = (): SimReply => oauthError(400, "invalid_client", "invalid client credentials");
