// What every request passes before any handler runs. First the Host header: a page on a name its author
// controls can point that name at 127.0.0.1 (DNS rebinding) and then read a loopback listener as if it were
// its own origin, but its requests still carry the attacker's name as Host, so only names this server answers
// for are let through. IP literals cannot be rebound and are always allowed, as is localhost. Then, when read
// tokens are configured, every GET route except the probes needs a read or API token.

import { isIP } from "node:net";
import { type ApiToken, type AuthFailureReason, checkBearerOrBasic } from "./bearer-auth.ts";
import type { HttpDeps } from "./http-deps.ts";
import { sendError } from "./http-errors.ts";
import type { HttpReply, HttpRequest } from "./http-router.ts";

/** Open with read tokens configured: probes (kubelet, load balancers) carry no secret; the icon is empty. */
const OPEN_READ_ROUTES: ReadonlySet<string> = new Set(["/healthz", "/readyz", "/favicon.ico"]);

const REALM = "eca-rotator";

/** The names the Host header may carry: localhost, the listen host when it is a name, and `extra`. */
export function allowedHostNames(extra: readonly string[]): ReadonlySet<string> {
  const names = new Set(["localhost"]);
  for (const name of extra) {
    const normal = normalName(name);
    if (isIP(normal) === 0 && normal !== "") names.add(normal);
  }
  return names;
}

export type HostVerdict = "allowed" | "missing" | "not_allowed";

/** Host header → verdict. The port is ignored; names compare case-insensitively, a final dot dropped. */
export function checkHost(header: string | undefined, names: ReadonlySet<string>): HostVerdict {
  if (header === undefined || header.trim() === "") return "missing";
  const match = /^(\[[^\]]{1,64}\]|[^:[\]]{1,255})(?::[0-9]{0,5})?$/.exec(header.trim());
  const host = match?.[1];
  if (host === undefined) return "not_allowed";
  if (host.startsWith("[")) return isIP(host.slice(1, -1)) === 6 ? "allowed" : "not_allowed";
  if (isIP(host) === 4) return "allowed";
  return names.has(normalName(host)) ? "allowed" : "not_allowed";
}

/** Answers 400 or 421 and returns the reply when the Host is not one of ours; undefined lets it through. */
export function refuseForeignHost(
  request: HttpRequest,
  reply: HttpReply,
  names: ReadonlySet<string>,
): HttpReply | undefined {
  switch (checkHost(request.headers.host, names)) {
    case "allowed":
      return undefined;
    case "missing":
      return sendError(reply, 400, "BAD_REQUEST", "a Host header is required");
    case "not_allowed":
      // The Host is never echoed: it is the caller's text.
      return sendError(
        reply,
        421,
        "MISDIRECTED_REQUEST",
        "this server does not answer for the host named in the Host header (see server.allowed_hosts)",
      );
  }
}

/**
 * With read tokens configured (deps.readTokens set), a GET or HEAD outside OPEN_READ_ROUTES needs a read or
 * API token, as Bearer or as the Basic password; unknown paths too, so a new route is never open by accident.
 * Without read tokens nothing is checked here. An empty token list (every token refused on a re-read) lets
 * nobody in: it never falls back to open.
 */
export async function refuseUnauthenticatedRead(
  request: HttpRequest,
  reply: HttpReply,
  deps: HttpDeps,
): Promise<HttpReply | undefined> {
  if (deps.readTokens === undefined) return undefined;
  if (request.method !== "GET" && request.method !== "HEAD") return undefined;
  if (OPEN_READ_ROUTES.has(request.route ?? "")) return undefined;

  const [read, write] = await Promise.allSettled([deps.readTokens(), deps.apiTokens()]);
  const tokens: ApiToken[] = [];
  for (const source of [read, write]) if (source.status === "fulfilled") tokens.push(...source.value);
  const check = checkBearerOrBasic(request.headers.authorization, tokens);
  if (check.ok) return undefined;
  if (check.reason === "wrong" && (read.status === "rejected" || write.status === "rejected")) {
    // The token may be one we could not read just now: say so rather than call it wrong.
    return sendError(reply, 503, "UNAVAILABLE", "tokens cannot be read right now; try again later");
  }
  deps.onUnauthorized?.({ access: "read", reason: check.reason, client: request.ip });
  reply.header("www-authenticate", readChallenges(request.route, check.reason));
  return sendError(
    reply,
    401,
    "UNAUTHORIZED",
    check.reason === "missing"
      ? "a read token is required: Authorization: Bearer <token>, or HTTP Basic with the token as the password"
      : "the token is not valid",
  );
}

/** The status page asks for Basic only, so a browser shows its password prompt; the API offers both. */
function readChallenges(route: string | null, reason: AuthFailureReason): string | string[] {
  const basic = `Basic realm="${REALM}", charset="UTF-8"`;
  if (route === "/") return basic;
  const bearer = `Bearer realm="${REALM}"${reason === "missing" ? "" : ', error="invalid_token"'}`;
  return [bearer, basic];
}

function normalName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, "");
}
