// `POST /v2/token` of a Marketing Cloud tenant's auth host: JSON body, client_credentials
// only; 401 invalid_client for an unknown client id or a secret that does not authenticate right now (inferred
// status, see the doc).
import { randomBytes } from "node:crypto";
import type { SimContext } from "./sim-context.ts";
import { oauthError } from "./sim-errors.ts";
import { json, jsonBody, type SimReply, type SimRequest } from "./sim-http.ts";
import type { McPackages } from "./sim-mc-packages.ts";

const TOKEN_LIFETIME_S = 1079;

export function handleMcToken(ctx: SimContext, mc: McPackages, req: SimRequest): SimReply {
  const body = jsonBody(req);
  if (!body.ok || typeof body.value !== "object" || body.value === null) {
    return oauthError(400, "invalid_request", "The request body must be JSON.");
  }
  const f = body.value as Record<string, unknown>;
  if (f["grant_type"] !== "client_credentials") {
    return oauthError(
      400,
      "unsupported_grant_type",
      "Use one of the following grant types: authorization_code, client_credentials, refresh_token.",
    );
  }
  const clientId = f["client_id"];
  const secret = f["client_secret"];
  if (typeof clientId !== "string" || typeof secret !== "string" || clientId === "" || secret === "") {
    return oauthError(400, "invalid_request", "client_id and client_secret are required.");
  }
  const pkg = mc.find(clientId);
  const now = ctx.clock.now().getTime();
  if (pkg === undefined || !mc.validSecrets(clientId, now).some((s) => s.secret === secret)) {
    return invalidClient();
  }
  const accountId = f["account_id"];
  if (accountId !== undefined && accountId !== pkg.accountId) {
    return oauthError(401, "unauthorized_client", "The client is not authorized for this account.");
  }
  const base = ctx.baseUrl();
  return json(200, {
    access_token: randomBytes(24).toString("base64url"),
    token_type: "Bearer",
    expires_in: TOKEN_LIFETIME_S,
    scope: "offline data_extensions_read data_extensions_write",
    soap_instance_url: `${base}/soap/`,
    rest_instance_url: `${base}/rest/`,
  });
}

function invalidClient(): SimReply {
  return {
    status: 401,
    body: {
      error: "invalid_client",
      error_description:
        "Client authentication failed. Make sure that the client ID and client secret are valid.",
      error_uri: "https://developer.salesforce.com/docs",
    },
  };
}
