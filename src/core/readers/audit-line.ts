// One line of a Vault/OpenBao audit device (file or socket: one JSON entry per line) → the one fact the reader
// feed keeps: "reader R got version V of credential P at time T", or the reason the line was skipped.
// The input is untrusted (anyone who can write to the socket or the log can forge a line), so the parser never
// throws, reads only the handful of fields below by own-property lookups, and keeps nothing else: the request and
// response bodies hold HMACs of secrets (with log_raw, the secrets themselves) and never leave this function.
//   type "response", request.operation "read", no error,
//   request.path "<kv_mount>/data/<path under a managed prefix>" (request.namespace.path must be the configured
//   namespace; a path that still carries the namespace in front is accepted too),
//   response.data.metadata.version a positive integer,
//   auth.entity_id, auth.display_name, auth.accessor (an HMAC), auth.metadata.role_name (AppRole) or
//   service_account_namespace/service_account_name (Kubernetes) for the label, and `time`.
import { parseRfc3339 } from "../time.ts";

/** Lines longer than this are skipped (sources drop them without buffering them whole). */
export const MAX_AUDIT_LINE_BYTES = 1024 * 1024;

/** A read the feed keeps. `at` is milliseconds since the epoch. */
export interface AuditRead {
  readonly path: string;
  readonly readerId: string;
  readonly label: string;
  readonly version: number;
  readonly at: number;
}

/** Entries that are well-formed but are not a managed credential read by someone else (counted, not alarming). */
export const AUDIT_SKIP_REASONS = [
  "not_response", // the request half of a pair, or another entry type
  "not_read", // a write, list, delete, ...
  "error", // the read failed (permission denied, missing key)
  "other_path", // not <kv_mount>/data/<managed prefix>/...: metadata, other mounts, sys/, auth/
  "other_namespace",
  "no_version", // a read without a KV v2 version (a KV v1 mount, a deleted version)
  "own_read", // the rotator's own token
  "ignored", // readers.ignore
  "backlog", // arrived before the feed reached Vault, with its backlog full (counted by the feed, not here)
] as const;

/** Entries that cannot be a genuine audit entry of interest: broken, forged or hostile. */
export const AUDIT_MALFORMED_REASONS = [
  "oversized", // over MAX_AUDIT_LINE_BYTES
  "not_json",
  "bad_shape", // wrong types, missing fields, __proto__ keys where the feed reads
  "bad_path", // "..", ".", "//", percent-encoding, backslashes or control characters in the request path
  "bad_identity", // no usable entity id or accessor HMAC, control characters in the display name
  "bad_time", // no RFC 3339 time, or one far in the future
] as const;

export type AuditSkipReason = (typeof AUDIT_SKIP_REASONS)[number];
export type AuditMalformedReason = (typeof AUDIT_MALFORMED_REASONS)[number];

export type AuditLineResult =
  | { readonly kind: "kept"; readonly read: AuditRead }
  | { readonly kind: "skipped"; readonly reason: AuditSkipReason }
  | { readonly kind: "malformed"; readonly reason: AuditMalformedReason };

/** What decides which reads count, fixed at start-up. */
export interface AuditLineFilter {
  readonly kvMount: string;
  readonly prefixes: readonly string[];
  /** vault.namespace, without slashes; undefined: the root namespace. */
  readonly namespace: string | undefined;
  /** The rotator's own token: its entity id, else its display name (auth/token/lookup-self at start). */
  readonly ownEntityId: string | undefined;
  readonly ownDisplayName: string | undefined;
  /** readers.ignore: display names whose reads are not counted. */
  readonly ignore: ReadonlySet<string>;
}

/** Longest label kept; labels are shown to people. */
export const MAX_READER_LABEL = 128;
/** A time more than this far ahead of the local clock is forged or broken: it would hold its place for ever. */
const MAX_FUTURE_MS = 5 * 60_000;
const MAX_PATH_LENGTH = 1024;

const ACCESSOR_HMAC = /^hmac-sha256:[0-9a-f]{64}$/;
const ENTITY_ID = /^[A-Za-z0-9-]{1,64}$/;
// Control characters (C0, DEL, C1) and the Unicode line and bidi controls a terminal or browser would act on.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const UNSAFE_LABEL_CHARS = /[^A-Za-z0-9 ._@:/+=()-]/g;

/** Parses one audit line (without its newline). Never throws. */
export function parseAuditLine(line: string, filter: AuditLineFilter, nowMs: number): AuditLineResult {
  if (line.length > MAX_AUDIT_LINE_BYTES) return malformed("oversized");
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    return malformed("not_json");
  }
  try {
    return judgeEntry(entry, filter, nowMs);
  } catch {
    // Unreachable by construction (own-property reads of parsed JSON); kept so a forged line can never throw.
    return malformed("bad_shape");
  }
}

function judgeEntry(entry: unknown, filter: AuditLineFilter, nowMs: number): AuditLineResult {
  if (!isRecord(entry)) return malformed("bad_shape");
  const type = own(entry, "type");
  if (typeof type !== "string") return malformed("bad_shape");
  if (type !== "response") return skipped("not_response");
  const request = own(entry, "request");
  if (!isRecord(request)) return malformed("bad_shape");
  const operation = own(request, "operation");
  if (typeof operation !== "string") return malformed("bad_shape");
  if (operation !== "read") return skipped("not_read");
  const error = own(entry, "error");
  if (error !== undefined && error !== null && error !== "") return skipped("error");

  const namespace = namespaceOf(request);
  if (namespace === null) return malformed("bad_shape");
  const rawPath = own(request, "path");
  if (typeof rawPath !== "string") return malformed("bad_shape");
  const path = credentialPathOf(rawPath, namespace, filter);
  if (typeof path !== "string") return path.kind === "bad" ? malformed("bad_path") : skipped(path.reason);

  const response = own(entry, "response");
  if (!isRecord(response)) return skipped("no_version");
  const data = own(response, "data");
  const metadata = isRecord(data) ? own(data, "metadata") : undefined;
  const version = isRecord(metadata) ? own(metadata, "version") : undefined;
  if (version === undefined || version === null) return skipped("no_version");
  if (typeof version !== "number" || !Number.isSafeInteger(version) || version < 1)
    return malformed("bad_shape");

  const auth = own(entry, "auth");
  if (!isRecord(auth)) return malformed("bad_identity");
  const displayName = own(auth, "display_name");
  const entityId = own(auth, "entity_id") ?? "";
  const accessor = own(auth, "accessor") ?? "";
  if (typeof displayName !== "string" || typeof entityId !== "string" || typeof accessor !== "string")
    return malformed("bad_identity");
  if (displayName.length > 4 * MAX_READER_LABEL || CONTROL.test(displayName))
    return malformed("bad_identity");
  let readerId: string;
  if (entityId !== "") {
    if (!ENTITY_ID.test(entityId)) return malformed("bad_identity");
    readerId = ["entity:", entityId].join("");
  } else {
    // Without log_raw the accessor is an HMAC; a plain accessor (log_raw) is never kept.
    if (!ACCESSOR_HMAC.test(accessor)) return malformed("bad_identity");
    // join, not concatenation: the book keeps these strings, and a concatenated one keeps its pieces alive.
    readerId = ["token:", safeLabel(displayName), ":", accessor.slice("hmac-sha256:".length)].join("");
  }
  if (filter.ownEntityId !== undefined && filter.ownEntityId !== "" && entityId === filter.ownEntityId)
    return skipped("own_read");
  if (
    (filter.ownEntityId === undefined || filter.ownEntityId === "") &&
    entityId === "" &&
    filter.ownDisplayName !== undefined &&
    displayName === filter.ownDisplayName
  )
    return skipped("own_read");
  if (filter.ignore.has(displayName)) return skipped("ignored");

  const time = parseRfc3339(own(entry, "time"));
  if (time === undefined || time.getTime() > nowMs + MAX_FUTURE_MS) return malformed("bad_time");

  return {
    kind: "kept",
    read: { path, readerId, label: labelOf(displayName, own(auth, "metadata")), version, at: time.getTime() },
  };
}

/** request.namespace.path without slashes ("" for the root namespace); null when it has the wrong type. */
function namespaceOf(request: Record<string, unknown>): string | null {
  const ns = own(request, "namespace");
  if (ns === undefined || ns === null) return "";
  if (!isRecord(ns)) return null;
  const p = own(ns, "path") ?? "";
  if (typeof p !== "string") return null;
  return p.replace(/^\/+|\/+$/g, "");
}

/** The credential path under the mount, or why the request path is not one. */
function credentialPathOf(
  rawPath: string,
  entryNamespace: string,
  filter: AuditLineFilter,
): string | { kind: "bad" } | { kind: "skip"; reason: AuditSkipReason } {
  if (rawPath.length > MAX_PATH_LENGTH || rawPath === "") return { kind: "bad" };
  if (CONTROL.test(rawPath) || rawPath.includes("%") || rawPath.includes("\\") || rawPath.includes("//"))
    return { kind: "bad" };
  const segments = rawPath.replace(/^\/+/, "").split("/");
  if (segments.some((s) => s === "." || s === "..")) return { kind: "bad" };
  const want = filter.namespace ?? "";
  let rest = segments;
  if (entryNamespace !== want) {
    // The root namespace's entry for a path that names the namespace in front (a client that put it in the path
    // rather than in X-Vault-Namespace).
    const nsSegments = want.split("/");
    const inFront = want !== "" && entryNamespace === "" && nsSegments.every((s, i) => segments[i] === s);
    if (!inFront) return { kind: "skip", reason: "other_namespace" };
    rest = segments.slice(nsSegments.length);
  }
  if (!matchesMount(rest, filter.kvMount)) return { kind: "skip", reason: "other_path" };
  const mountSegments = filter.kvMount.split("/").length;
  const credential = rest.slice(mountSegments + 1);
  if (credential.length === 0 || credential.some((s) => s === ""))
    return { kind: "skip", reason: "other_path" };
  const path = credential.join("/");
  const managed = filter.prefixes.some((p) => path.startsWith(`${p}/`));
  return managed ? path : { kind: "skip", reason: "other_path" };
}

function matchesMount(segments: readonly string[], kvMount: string): boolean {
  const mount = kvMount.split("/");
  return mount.every((s, i) => segments[i] === s) && segments[mount.length] === "data";
}

/** The display name, with the role or service account that explains it ("approle" alone says little). */
function labelOf(displayName: string, metadata: unknown): string {
  let extra = "";
  if (isRecord(metadata)) {
    const role = own(metadata, "role_name");
    const saNs = own(metadata, "service_account_namespace");
    const sa = own(metadata, "service_account_name");
    if (typeof role === "string" && role !== "") extra = role;
    else if (typeof sa === "string" && sa !== "")
      extra = typeof saNs === "string" && saNs !== "" ? `${saNs}/${sa}` : sa;
  }
  const base = displayName === "" ? "(no name)" : displayName;
  return safeLabel(extra === "" || CONTROL.test(extra) ? base : [base, " (", extra, ")"].join(""));
}

/** A safe character set, at most MAX_READER_LABEL characters: labels reach logs, HTTP and chat. */
export function safeLabel(text: string): string {
  return text.slice(0, MAX_READER_LABEL).replace(UNSAFE_LABEL_CHARS, "_");
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** An own property only: a `__proto__` key in the JSON is an own property, never the prototype. */
function own(o: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

function skipped(reason: AuditSkipReason): AuditLineResult {
  return { kind: "skipped", reason };
}

function malformed(reason: AuditMalformedReason): AuditLineResult {
  return { kind: "malformed", reason };
}
