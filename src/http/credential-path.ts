// A credential path as it arrives in a URL (already percent-decoded by the router): checked before it is
// used to read Vault, so a request can only name a plain relative KV path.

import { isSafeText } from "../core/display-text.ts";

const MAX_CREDENTIAL_PATH_CHARS = 512;

export type PathCheck =
  | { readonly ok: true; readonly path: string }
  | { readonly ok: false; readonly message: string };

export function checkCredentialPath(raw: string): PathCheck {
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
