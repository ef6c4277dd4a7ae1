// Classifying transport failures (no HTTP answer) the same way in every HTTP adapter: which error code the HTTP
// client (http-client.ts) or Node gave, whether it is worth another try, whether the request can have reached the
// server at all, and the safe forms of addresses and texts that may appear in messages.

/** Codes of failures that are transient: another try may work. */
const UNAVAILABLE_TRANSPORT_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_DESTROYED",
  "UND_ERR_ABORTED",
  "ABORT_ERR",
]);

/**
 * Codes of failures that happen before a request is written: the server cannot have acted on it. Anything else
 * (a reset, a timeout waiting for the answer) leaves a non-idempotent call's outcome unknown.
 */
const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
]);

const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|ERR_OSSL_|HOSTNAME_MISMATCH)/;

/** The first error code found on an error, its cause or (happy-eyeballs) its aggregated errors. */
export function transportErrorCode(err: unknown, depth = 0): string | undefined {
  if (depth > 4 || typeof err !== "object" || err === null) return undefined;
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown; name?: unknown };
  if (typeof e.code === "string" && e.code !== "") return e.code;
  if (e.name === "AbortError" || e.name === "TimeoutError") return "ABORT_ERR";
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const code = transportErrorCode(inner, depth + 1);
      if (code) return code;
    }
  }
  return transportErrorCode(e.cause, depth + 1);
}

export function isTlsErrorCode(code: string): boolean {
  return TLS_CODE.test(code);
}

export function isUnavailableCode(code: string): boolean {
  return UNAVAILABLE_TRANSPORT_CODES.has(code);
}

/** True when the failure happened before the request left this process (nothing reached the server). */
export function isNotSentCode(code: string): boolean {
  return NOT_SENT_CODES.has(code) || isTlsErrorCode(code);
}

/** The address without credentials, path or query: safe for messages. */
export function safeOrigin(address: string): string {
  try {
    return new URL(address).origin;
  } catch {
    return "(invalid address)";
  }
}

/** One line, at most `max` characters. */
export function truncateOneLine(text: string, max: number): string {
  const oneLine = text.replace(/\s+/g, " ").trim();
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1)}…`;
}
