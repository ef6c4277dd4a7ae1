// POST /services/oauth2/token: client_credentials (form or HTTP Basic) and jwt-bearer, with every error case
// the token endpoint is known to answer (docs/simulator.md).
import { createHmac, timingSafeEqual } from "node:crypto";
import { nowMs, type SimContext } from "./sim-context.ts";
import { invalidClient, invalidClientId, oauthError } from "./sim-errors.ts";
import { formFields, header, json, type SimReply, type SimRequest } from "./sim-http.ts";
import { to18 } from "./sim-ids.ts";
import { issueSession, recordLogin } from "./sim-sessions.ts";
import { findLivePair, isPastActivationDelay, type PairMatch, type SimUser } from "./sim-state.ts";

const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const GENERIC_LOGIN_HOSTS = new Set(["login.salesforce.com", "test.salesforce.com"]);

export function identityUrl(ctx: SimContext, userId15: string): string {
  return `${ctx.baseUrl()}/id/${to18(ctx.state.orgId15)}/${to18(userId15)}`;
}

export function handleToken(ctx: SimContext, req: SimRequest): SimReply {
  ctx.state.counters.tokenRequests += 1;
  const fields = formFields(req);
  const grant = fields.get("grant_type");
  if (grant === "client_credentials") return clientCredentials(ctx, req, fields);
  if (grant === JWT_BEARER) return jwtBearer(ctx, fields);
  return oauthError(400, "unsupported_grant_type", "grant type not supported");
}

function clientCredentials(ctx: SimContext, req: SimRequest, fields: URLSearchParams): SimReply {
  const host = (header(req, "host") ?? "").replace(/:\d+$/, "").toLowerCase();
  if (GENERIC_LOGIN_HOSTS.has(host)) {
    return oauthError(400, "invalid_grant", "request not supported on this domain");
  }
  const creds = basicCredentials(header(req, "authorization")) ?? {
    id: fields.get("client_id") ?? "",
    secret: fields.get("client_secret") ?? "",
  };
  const match = usablePair(ctx, creds.id);
  if (!match) return invalidClientId();
  if (!sameSecret(match.pair.secret, creds.secret)) return invalidClient();
  const runAs = match.app.runAsUserId15;
  const user = runAs === undefined ? undefined : ctx.state.users.find((u) => u.id15 === runAs);
  if (!user) return oauthError(400, "invalid_grant", "no client credentials user enabled");
  return grantToken(ctx, match, user);
}

function jwtBearer(ctx: SimContext, fields: URLSearchParams): SimReply {
  // Claims are checked structurally only; the signature is not verified (the simulator holds no certificates).
  const claims = jwtClaims(fields.get("assertion") ?? "");
  if (!claims) return oauthError(400, "invalid_grant", "invalid assertion");
  const match = usablePair(ctx, typeof claims["iss"] === "string" ? claims["iss"] : "");
  if (!match) return invalidClientId();
  const audiences = Array.isArray(claims["aud"]) ? claims["aud"] : [claims["aud"]];
  const allowed = ["https://login.salesforce.com", "https://test.salesforce.com", ctx.baseUrl()];
  if (!audiences.some((a) => typeof a === "string" && allowed.includes(a.replace(/\/$/, "")))) {
    return oauthError(400, "invalid_grant", "Audience validation failed");
  }
  const exp = claims["exp"];
  if (typeof exp !== "number" || exp * 1000 <= nowMs(ctx)) {
    return oauthError(400, "invalid_grant", "expired assertion");
  }
  const user = ctx.state.users.find((u) => u.username === claims["sub"]);
  if (!user) return oauthError(400, "invalid_grant", "user hasn't approved this consumer");
  return grantToken(ctx, match, user);
}

function grantToken(ctx: SimContext, match: PairMatch, user: SimUser): SimReply {
  const now = nowMs(ctx);
  if (!recordLogin(ctx.state, user.id15, ctx.settings.loginRatePerHour, now)) {
    return oauthError(400, "invalid_grant", "login rate exceeded");
  }
  const session = issueSession(ctx.state, user.id15, match.app.id15, match.pair.key, now);
  const id = identityUrl(ctx, user.id15);
  const issuedAt = String(now);
  const signature = createHmac("sha256", match.pair.secret)
    .update(id + issuedAt)
    .digest("base64");
  return json(200, {
    access_token: session.token,
    signature,
    scope: "api",
    instance_url: ctx.baseUrl(),
    id,
    token_type: "Bearer",
    issued_at: issuedAt,
    token_format: "opaque",
  });
}

/** The live pair for a consumer key, unless it is younger than the activation delay (then it is "unknown"). */
function usablePair(ctx: SimContext, key: string): PairMatch | undefined {
  if (key === "") return undefined;
  const match = findLivePair(ctx.state, key);
  if (!match) return undefined;
  return isPastActivationDelay(match.app, match.pair, ctx.settings.activationDelayMs, nowMs(ctx))
    ? match
    : undefined;
}

function sameSecret(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** RFC 6749 2.3.1: client id and secret are form-urlencoded, then joined with ":" and base64-encoded. */
export function basicCredentials(
  authorization: string | undefined,
): { id: string; secret: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? "");
  if (!m?.[1]) return undefined;
  const decoded = Buffer.from(m[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  const unform = (s: string) => {
    try {
      return decodeURIComponent(s.replace(/\+/g, " "));
    } catch {
      return s;
    }
  };
  return { id: unform(decoded.slice(0, colon)), secret: unform(decoded.slice(colon + 1)) };
}

function jwtClaims(assertion: string): Record<string, unknown> | undefined {
  const parts = assertion.split(".");
  if (parts.length !== 3 || !parts[1]) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
    return claims !== null && typeof claims === "object" && !Array.isArray(claims)
      ? (claims as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
