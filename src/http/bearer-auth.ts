// Token checks for the HTTP face. Every configured token is compared, in constant time, over SHA-256 digests
// (equal length whatever the input, so neither the token's length nor how many leading characters matched
// leaks through timing), and the loop never stops early. Writes take `Authorization: Bearer <token>` only;
// reads also take HTTP Basic with the token as the password, so a browser can open the status page. Basic is
// kept off the write route because a browser replays cached Basic credentials on its own (ambient authority).

import { createHash, timingSafeEqual } from "node:crypto";
import type { SecretValue } from "../core/secret-value.ts";

export interface ApiToken {
  readonly name: string;
  readonly token: SecretValue;
}

export type AuthFailureReason = "missing" | "malformed" | "wrong";

export type BearerCheck =
  | { readonly ok: true; readonly name: string }
  | { readonly ok: false; readonly reason: AuthFailureReason };

// RFC 6750 b64token; bounded so a huge header costs nothing.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]{1,4096}=*) *$/i;
// RFC 7617: base64 of "user:password"; bounded likewise.
const BASIC = /^Basic +([A-Za-z0-9+/]{1,8192}={0,2}) *$/i;

/** Checks an Authorization header against the tokens. The caller handles "no tokens configured" first. */
export function checkBearer(header: string | undefined, tokens: readonly ApiToken[]): BearerCheck {
  if (header === undefined || header === "") return { ok: false, reason: "missing" };
  const presented = BEARER.exec(header)?.[1];
  if (presented === undefined) return { ok: false, reason: "malformed" };
  return matchToken(presented, tokens);
}

/** Bearer, or Basic whose password is the token (any user name). */
export function checkBearerOrBasic(header: string | undefined, tokens: readonly ApiToken[]): BearerCheck {
  if (header === undefined || header === "") return { ok: false, reason: "missing" };
  const basic = BASIC.exec(header)?.[1];
  if (basic === undefined) return checkBearer(header, tokens);
  const decoded = Buffer.from(basic, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  const password = colon < 0 ? "" : decoded.slice(colon + 1);
  if (password === "") return { ok: false, reason: "malformed" };
  return matchToken(password, tokens);
}

function matchToken(presented: string, tokens: readonly ApiToken[]): BearerCheck {
  const presentedDigest = digest(presented);
  let matched: string | undefined;
  for (const { name, token } of tokens) {
    const equal = timingSafeEqual(presentedDigest, digest(token.reveal()));
    if (equal && matched === undefined) matched = name;
  }
  return matched === undefined ? { ok: false, reason: "wrong" } : { ok: true, name: matched };
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}
