// /services/oauth2/userinfo, /id/{org}/{user}, /services/oauth2/revoke and /services/oauth2/introspect.
import { timingSafeEqual } from "node:crypto";
import { nowMs, type SimContext } from "./sim-context.ts";
import { invalidSession, oauthError } from "./sim-errors.ts";
import { formFields, header, json, type SimReply, type SimRequest } from "./sim-http.ts";
import { to18 } from "./sim-ids.ts";
import { bearerToken, liveSession } from "./sim-sessions.ts";
import { findLivePair, findUser, type SimSession, type SimUser } from "./sim-state.ts";
import { basicCredentials, identityUrl } from "./sim-token-endpoint.ts";

function sessionOf(ctx: SimContext, req: SimRequest): SimSession | undefined {
  const token = bearerToken(header(req, "authorization"));
  return token === undefined
    ? undefined
    : liveSession(ctx.state, token, ctx.settings.sessionTimeoutMs, nowMs(ctx));
}

/** OpenID Connect UserInfo; a bad or expired token gets the REST 401 (the real body is not documented). */
export function handleUserinfo(ctx: SimContext, req: SimRequest): SimReply {
  const session = sessionOf(ctx, req);
  const user = session && findUser(ctx.state, session.userId15);
  if (!user) return invalidSession();
  const base = ctx.baseUrl();
  const [given, ...family] = user.name.split(" ");
  return json(200, {
    sub: identityUrl(ctx, user.id15),
    user_id: to18(user.id15),
    organization_id: to18(ctx.state.orgId15),
    preferred_username: user.username,
    nickname: user.username.split("@")[0],
    name: user.name,
    email: user.username,
    email_verified: true,
    given_name: given,
    family_name: family.join(" "),
    zoneinfo: "Etc/UTC",
    photos: { picture: `${base}/profilephoto/005/F`, thumbnail: `${base}/profilephoto/005/T` },
    profile: `${base}/${to18(user.id15)}`,
    picture: `${base}/profilephoto/005/F`,
    address: {},
    is_salesforce_integration_user: !user.eccPerms,
    urls: restUrls(base, ctx.state.orgId15, user),
    active: true,
    user_type: "STANDARD",
    language: "en_US",
    locale: "en_US",
    utcOffset: 0,
    updated_at: "2025-01-01T00:00:00Z",
  });
}

/** GET of the identity URL from the token response. */
export function handleIdentity(ctx: SimContext, req: SimRequest, orgId: string, userId: string): SimReply {
  const session = sessionOf(ctx, req);
  const user = session && findUser(ctx.state, session.userId15);
  if (!user) return invalidSession();
  if (orgId.slice(0, 15) !== ctx.state.orgId15 || userId.slice(0, 15) !== user.id15) {
    return oauthError(403, "Bad_Id", "the identity URL does not belong to this session");
  }
  return json(200, {
    id: identityUrl(ctx, user.id15),
    asserted_user: true,
    user_id: to18(user.id15),
    organization_id: to18(ctx.state.orgId15),
    username: user.username,
    display_name: user.name,
    email: user.username,
    active: true,
    user_type: "STANDARD",
    urls: restUrls(ctx.baseUrl(), ctx.state.orgId15, user),
  });
}

function restUrls(base: string, orgId15: string, user: SimUser): Record<string, string> {
  const ids = `${to18(orgId15)}/${to18(user.id15)}`;
  return {
    enterprise: `${base}/services/Soap/c/{version}/${ids}`,
    metadata: `${base}/services/Soap/m/{version}/${to18(orgId15)}`,
    partner: `${base}/services/Soap/u/{version}/${ids}`,
    rest: `${base}/services/data/v{version}/`,
    sobjects: `${base}/services/data/v{version}/sobjects/`,
    search: `${base}/services/data/v{version}/search/`,
    query: `${base}/services/data/v{version}/query/`,
    profile: `${base}/${to18(user.id15)}`,
  };
}

/** Revoke: 200 with an empty body on success, 400 invalid_token otherwise (form POST or legacy GET ?token=). */
export function handleRevoke(ctx: SimContext, req: SimRequest): SimReply {
  const token = req.method === "GET" ? req.query.get("token") : formFields(req).get("token");
  if (!token) return oauthError(400, "unsupported_token_type", "this token type is not supported");
  const session = liveSession(ctx.state, token, ctx.settings.sessionTimeoutMs, nowMs(ctx));
  if (!session) return oauthError(400, "invalid_token", "invalid token");
  session.revoked = true;
  return { status: 200, body: "" };
}

/** RFC 7662 introspection; the caller authenticates as a client and may only see its own app's tokens. */
export function handleIntrospect(ctx: SimContext, req: SimRequest): SimReply {
  const fields = formFields(req);
  const creds = basicCredentials(header(req, "authorization")) ?? {
    id: fields.get("client_id") ?? "",
    secret: fields.get("client_secret") ?? "",
  };
  const caller = creds.id === "" ? undefined : findLivePair(ctx.state, creds.id);
  const given = Buffer.from(creds.secret);
  const expected = Buffer.from(caller?.pair.secret ?? "");
  if (!caller || given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return oauthError(401, "invalid_client", "invalid client credentials");
  }
  const now = nowMs(ctx);
  const session = liveSession(ctx.state, fields.get("token") ?? "", ctx.settings.sessionTimeoutMs, now);
  if (!session || session.appId15 !== caller.app.id15) return json(200, { active: false });
  const user = findUser(ctx.state, session.userId15);
  const iat = Math.floor(session.issuedAt / 1000);
  return json(200, {
    active: true,
    scope: "api",
    client_id: session.clientKey,
    username: user?.username ?? "",
    sub: identityUrl(ctx, session.userId15),
    token_type: "access_token",
    exp: iat + Math.floor(ctx.settings.sessionTimeoutMs / 1000),
    iat,
    nbf: iat,
  });
}
