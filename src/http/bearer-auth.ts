// Bearer-token check for the write routes. Every configured token is compared, in constant time, over
// SHA-256 digests (equal length whatever the input, so neither the token's length nor how many leading
// characters matched leaks through timing), and the loop never stops early.

import { createHash, timingSafeEqual } from "node:crypto";
import type { SecretValue } from "../core/secret-value.ts";

export interface ApiToken {
  readonly name: string;
  readonly token: SecretValue;
}

export type BearerCheck =
  | { readonly ok: true; readonly name: string }
  | { readonly ok: false; readonly reason: "missing" | "malformed" | "wrong" };

// RFC 6750 b64token; bounded so a huge header costs nothing.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]{1,4096}=*) *$/i;

/** Checks an Authorization header against the tokens. The caller handles "no tokens configured" first. */
export function checkBearer(header: string | undefined, tokens: readonly ApiToken[]): BearerCheck {
  if (header === undefined || header === "") return { ok: false, reason: "missing" };
  const match = BEARER.exec(header);
  const presented = match?.[1];
  if (presented === undefined) return { ok: false, reason: "malformed" };
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
