// /v1/credentials: the inventory as JSON, one credential, and the rotate request. A credential path holds
// slashes, so the routes take a wildcard; a POST is a rotate request only when the path ends in /rotate.
import { z } from "zod";
import { isSafeText } from "../core/display-text.ts";
import { CREDENTIAL_STATES, type CredentialState } from "../core/inventory/inventory-item.ts";
import { itemToJson } from "../report/item-json.ts";
import { checkBearer } from "./bearer-auth.ts";
import type { RotationRequestResult } from "./daemon-view.ts";
import type { HttpDeps } from "./http-deps.ts";
import { refuseOtherMethods, replyMethodNotAllowed, sendError } from "./http-errors.ts";
import type { HttpMethod, HttpReply, HttpRequest, Router } from "./http-router.ts";

const ROTATE_SUFFIX = "/rotate";

/** Name of the token that authenticated this request (set by the onRequest hook of the rotate route). */
const tokenNames = new WeakMap<HttpRequest, string>();

export function registerCredentialRoutes(app: Router, deps: HttpDeps): void {
  app.get("/v1/credentials", async (request, reply) => {
    const state = request.query["state"];
    if (state !== undefined && !isCredentialState(state)) {
      return sendError(reply, 400, "BAD_REQUEST", `state must be one of ${CREDENTIAL_STATES.join(", ")}`);
    }
    const snapshot = deps.view.inventory();
    if (snapshot === undefined)
      return sendError(reply, 503, "NOT_READY", "the first scan has not finished yet");
    const items = state === undefined ? snapshot.items : snapshot.items.filter((i) => i.state === state);
    return { scanned_at: snapshot.scannedAt.toISOString(), credentials: items.map(itemToJson) };
  });
  refuseOtherMethods(app, "/v1/credentials", ["GET"]);

  app.get("/v1/credentials/*", async (request, reply) => {
    const checked = checkCredentialPath(request.params["*"] ?? "");
    if (!checked.ok) return sendError(reply, 400, "BAD_REQUEST", checked.message);
    const item = await deps.view.credential(checked.path);
    if (item === undefined) return sendError(reply, 404, "NOT_FOUND", "no credential at this path");
    return itemToJson(item);
  });

  app.post(
    "/v1/credentials/*",
    { onRequest: (request, reply) => authorizeRotate(request, reply, deps) },
    async (request, reply) => {
      const tokenName = tokenNames.get(request);
      // The hook always sets it; refusing here too keeps a future route change from opening the door.
      if (tokenName === undefined) return sendError(reply, 401, "UNAUTHORIZED", "a bearer token is required");
      const raw = request.params["*"] ?? "";
      const checked = checkCredentialPath(raw.slice(0, -ROTATE_SUFFIX.length));
      if (!checked.ok) return sendError(reply, 400, "BAD_REQUEST", checked.message);
      const body = parseRotateRequestBody(request.body);
      if (!body.ok) return sendError(reply, 400, "BAD_REQUEST", body.message);
      const result = await deps.view.requestRotation(checked.path, {
        mode: body.body.mode,
        reason: body.body.reason,
        actor: `http:${tokenName}`,
      });
      return replyRotationResult(reply, result);
    },
  );
  refuseOtherMethods(app, "/v1/credentials/*", ["GET", "POST"], (request) => allowedOnCredential(request));
}

/**
 * Runs before the body is read: a non-rotate POST is 405, then no tokens → 403, no or wrong token → 401.
 * An async hook that answers must return the reply, which ends the request there.
 */
async function authorizeRotate(
  request: HttpRequest,
  reply: HttpReply,
  deps: HttpDeps,
): Promise<HttpReply | undefined> {
  if (!isRotatePath(request)) {
    return replyMethodNotAllowed(reply, allowedOnCredential(request));
  }
  let tokens: Awaited<ReturnType<HttpDeps["apiTokens"]>>;
  try {
    tokens = await deps.apiTokens();
  } catch {
    return sendError(reply, 503, "UNAVAILABLE", "API tokens cannot be read right now; try again later");
  }
  if (tokens.length === 0) {
    return sendError(reply, 403, "FORBIDDEN", "writes are disabled: configure server.api_tokens");
  }
  const check = checkBearer(request.headers.authorization, tokens);
  if (!check.ok) {
    deps.onUnauthorized?.({ access: "write", reason: check.reason, client: request.ip });
    reply.header("www-authenticate", check.reason === "missing" ? "Bearer" : 'Bearer error="invalid_token"');
    return sendError(
      reply,
      401,
      "UNAUTHORIZED",
      check.reason === "missing" ? "a bearer token is required" : "the bearer token is not valid",
    );
  }
  tokenNames.set(request, check.name);
  return undefined;
}

function replyRotationResult(reply: HttpReply, result: RotationRequestResult): HttpReply {
  switch (result.status) {
    case "accepted":
      return reply.code(202).send({
        rotation_id: result.rotationId,
        status_url: `/v1/rotations/${encodeURIComponent(result.rotationId)}`,
      });
    case "conflict":
      return sendError(reply, 409, "CONFLICT", publicText(result.message, "a rotation is already running"), {
        rotationId: result.rotationId,
      });
    case "not_found":
      return sendError(reply, 404, "NOT_FOUND", "no credential at this path");
    case "not_rotatable":
      return sendError(
        reply,
        422,
        "NOT_ROTATABLE",
        publicText(result.message, "this credential cannot be rotated"),
      );
    case "unavailable":
      return sendError(reply, 503, "UNAVAILABLE", publicText(result.message, "the daemon takes no new work"));
  }
}

function isRotatePath(request: HttpRequest): boolean {
  const raw = request.params["*"] ?? "";
  return raw.endsWith(ROTATE_SUFFIX) && raw.length > ROTATE_SUFFIX.length;
}

function allowedOnCredential(request: HttpRequest): readonly HttpMethod[] {
  return isRotatePath(request) ? ["GET", "POST"] : ["GET"];
}

function isCredentialState(value: unknown): value is CredentialState {
  return typeof value === "string" && (CREDENTIAL_STATES as readonly string[]).includes(value);
}

/** The view's messages are public words by contract; still bounded, and a blank one gets a default. */
function publicText(message: string, fallback: string): string {
  const trimmed = message.trim();
  return trimmed === "" ? fallback : trimmed.slice(0, 300);
}

// A credential path as it arrives in a URL (already percent-decoded by the router): checked before it is
// used to read Vault, so a request can only name a plain relative KV path.
const MAX_CREDENTIAL_PATH_CHARS = 512;

type PathCheck =
  | { readonly ok: true; readonly path: string }
  | { readonly ok: false; readonly message: string };

function checkCredentialPath(raw: string): PathCheck {
  if (raw === "") return { ok: false, message: "credential path is empty" };
  if (raw.length > MAX_CREDENTIAL_PATH_CHARS) {
    return { ok: false, message: `credential path is longer than ${MAX_CREDENTIAL_PATH_CHARS} characters` };
  }
  if (!isSafeText(raw)) return { ok: false, message: "credential path has control or invisible characters" };
  const segments = raw.split("/");
  if (segments.some((s) => s === "")) return { ok: false, message: "credential path has an empty segment" };
  if (segments.some((s) => s === "." || s === "..")) {
    return { ok: false, message: 'credential path must not contain "." or ".." segments' };
  }
  return { ok: true, path: raw };
}

// The body of POST /v1/credentials/{path}/rotate, parsed with zod at the edge. Strict: an unknown key is a
// mistake worth telling the caller about. Messages are ours and never repeat the input.
const MAX_REASON_CHARS = 200;

const RotateRequestBodySchema = z.strictObject({
  mode: z.enum(["now", "emergency"]),
  reason: z
    .string()
    .min(1)
    .max(MAX_REASON_CHARS)
    .refine((s) => isSafeText(s))
    .optional(),
});
type RotateRequestBody = z.infer<typeof RotateRequestBodySchema>;

type BodyCheck =
  | { readonly ok: true; readonly body: RotateRequestBody }
  | { readonly ok: false; readonly message: string };

function parseRotateRequestBody(body: unknown): BodyCheck {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { ok: false, message: 'body must be a JSON object like {"mode":"now"}' };
  }
  const parsed = RotateRequestBodySchema.safeParse(body);
  if (parsed.success) return { ok: true, body: parsed.data };
  const messages = new Set<string>();
  for (const issue of parsed.error.issues) {
    if (issue.code === "unrecognized_keys")
      messages.add("unknown key in body; allowed keys are mode and reason");
    else if (issue.path[0] === "mode") messages.add('mode must be "now" or "emergency"');
    else if (issue.path[0] === "reason") {
      messages.add(`reason must be 1 to ${MAX_REASON_CHARS} printable characters`);
    } else messages.add("body is not valid");
  }
  return { ok: false, message: [...messages].join("; ") };
}
