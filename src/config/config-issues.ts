// Turns zod issues into `key.path: problem` lines. Lines name keys and environment variables, never values.
import type { z } from "zod";
import { KNOWN_KEYS } from "./config-schema.ts";

/** key path (`vault.address`) → where its value came from (`file`, `env VAULT_ADDR`). */
export type Origins = Readonly<Record<string, string>>;

function keyPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? safeKey(String(part)) : `.${safeKey(String(part))}`;
  }
  return out;
}

/** Keys are names and are shown; something that cannot be a name (long, control characters) is not. */
function safeKey(key: string): string {
  return /^[\x20-\x7e]{1,64}$/.test(key) ? key : `<a ${key.length}-character key>`;
}

// Keys people try first for values that are deliberately not allowed in the file.
const NOT_IN_FILE: Readonly<Record<string, string>> = {
  token: "a token is never written in the config file: use vault.auth.token_file, or VAULT_TOKEN / BAO_TOKEN",
  secret_id: "a secret id is never written in the config file: use vault.auth.secret_id_file",
  client_secret: "the connection's client id and secret live in KV at credentials_path, never in this file",
  client_id: "the connection's client id and secret live in KV at credentials_path, never in this file",
};

export function formatIssue(issue: z.core.$ZodIssue, origins: Origins): string[] {
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map(
      (key) => `${keyPath([...issue.path, key])}: unknown key${unknownKeyHint(issue.path, key)}`,
    );
  }
  const path = keyPath(issue.path);
  const origin = origins[path];
  const from = origin?.startsWith("env ") ? ` (from ${origin.slice(4)})` : "";
  // A bad record key (a connection name): the key schema's own message, not the record's.
  const message = issue.code === "invalid_key" ? (issue.issues[0]?.message ?? issue.message) : issue.message;
  return [`${path === "" ? "config file" : path}${from}: ${message}`];
}

function unknownKeyHint(parentPath: readonly PropertyKey[], key: string): string {
  const special = NOT_IN_FILE[key];
  if (special !== undefined) return ` (${special})`;
  const pattern = parentPath
    .map((p, i) =>
      i === 2 && (parentPath[0] === "salesforce" || parentPath[0] === "notifications") ? "*" : String(p),
    )
    .join(".");
  const candidates = KNOWN_KEYS[pattern] ?? [];
  const best = closest(key, candidates);
  if (best === undefined) return candidates.length > 0 ? ` (known keys: ${candidates.join(", ")})` : "";
  return ` (did you mean ${keyPath([...parentPath, best])}?)`;
}

/** The candidate within a small edit distance (case and `-`/`_` confusions count as one edit). */
function closest(word: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate);
    if (d <= limit && d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance, two rows. Keys are short, so this is cheap. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}
