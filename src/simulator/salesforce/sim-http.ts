// The request and reply values the route handlers work with; the server wiring turns them into node:http calls.
// Handlers return a reply instead of writing to the socket, so a fault can run one and then drop the connection.
import type { IncomingHttpHeaders } from "node:http";

export interface SimRequest {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface SimReply {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Serialised as JSON unless it is a string. */
  readonly body?: unknown;
}

export function json(status: number, body: unknown): SimReply {
  return { status, body };
}

export function noContent(): SimReply {
  return { status: 204 };
}

export function header(req: SimRequest, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** Form fields of a urlencoded body; any other content type yields no fields (as a real token endpoint does). */
export function formFields(req: SimRequest): URLSearchParams {
  const type = (header(req, "content-type") ?? "application/x-www-form-urlencoded").toLowerCase();
  return type.startsWith("application/x-www-form-urlencoded")
    ? new URLSearchParams(req.body)
    : new URLSearchParams();
}

export type JsonBody = { ok: true; value: unknown } | { ok: false };

/** JSON body; an empty body is `{}` (POST staged takes none, `{}` or anything). */
export function jsonBody(req: SimRequest): JsonBody {
  if (req.body.trim() === "") return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(req.body) };
  } catch {
    return { ok: false };
  }
}

/** Salesforce-style timestamp: `2025-09-24T08:26:11.000Z`. */
export function sfDate(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString();
}
