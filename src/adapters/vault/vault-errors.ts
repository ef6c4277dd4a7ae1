// Vault/OpenBao answers and transport failures → RotatorError, in one place. Messages are one line:
// "<METHOD> <api path> → HTTP <status>: <Vault's error text>". The API path never carries a query string,
// and Vault's error texts name paths and reasons, not secret values; they are still normalised and truncated.
import { RotatorError } from "../../core/errors.ts";
import {
  isTlsErrorCode,
  isUnavailableCode,
  safeOrigin,
  transportErrorCode,
  truncateOneLine,
} from "../http/transport-errors.ts";

const MAX_VAULT_TEXT = 200;

/** What an error message may say about the call that failed. */
export interface VaultCallInfo {
  readonly method: string;
  /** API path relative to /v1/, without a query string. */
  readonly path: string;
}

export interface VaultErrorAnswer extends VaultCallInfo {
  readonly status: number;
  readonly errors: readonly string[];
  readonly warnings: readonly string[];
  readonly requestId: string | undefined;
  /** From a Retry-After header (429/503), so the retry loop can honour it. */
  readonly retryAfterMs?: number | undefined;
}

/**
 * Vault wraps many errors in go-multierror ("1 error occurred:\n\t* permission denied\n\n"): keep the
 * reasons only, on one line, and cut long texts so a message stays a single readable line.
 */
export function vaultErrorText(errors: readonly string[]): string {
  const parts = errors
    .flatMap((e) => e.split("\n"))
    .map((line) => line.replace(/^\s*\*\s*/, "").trim())
    .filter((line) => line !== "" && !/^\d+ errors? occurred:$/.test(line));
  return truncateOneLine([...new Set(parts)].join("; "), MAX_VAULT_TEXT);
}

export function isInvalidKvV2Path(warnings: readonly string[]): boolean {
  return warnings.some((w) => w.includes("Invalid path for a versioned K/V secrets engine"));
}

function isCasMismatch(errors: readonly string[]): boolean {
  return errors.some((e) => e.includes("check-and-set parameter did not match"));
}

function isSealedText(text: string): boolean {
  return /\bsealed\b/i.test(text) || /not initiali[sz]ed/i.test(text);
}

/** Maps a non-2xx answer to the stable error codes (house-style 4.5). */
export function errorFromAnswer(a: VaultErrorAnswer): RotatorError {
  const text = vaultErrorText(a.errors);
  const warning = a.errors.length === 0 && a.warnings.length > 0 ? vaultErrorText(a.warnings) : "";
  const detail = text || warning || defaultText(a.status);
  const message = `${a.method} ${a.path} → HTTP ${a.status}: ${detail}`;
  const context = {
    method: a.method,
    path: a.path,
    status: a.status,
    requestId: a.requestId,
    retryAfterMs: a.retryAfterMs,
  };
  const make = (code: ConstructorParameters<typeof RotatorError>[0], retryable: boolean): RotatorError =>
    new RotatorError(code, message, { retryable, context });

  if (a.status === 400)
    return make(isCasMismatch(a.errors) ? "VAULT_CAS_CONFLICT" : "VAULT_BAD_REQUEST", false);
  if (a.status === 401) return make("VAULT_AUTH_FAILED", false);
  if (a.status === 403) return make("VAULT_PERMISSION_DENIED", false);
  if (a.status === 404)
    return make(isInvalidKvV2Path(a.warnings) ? "VAULT_NOT_KV_V2" : "VAULT_NOT_FOUND", false);
  if (a.status === 405 || a.status === 415) return make("VAULT_BAD_REQUEST", false);
  if (a.status === 412) return make("VAULT_UNAVAILABLE", true);
  if (a.status === 429) return make("VAULT_RATE_LIMITED", true);
  if (a.status === 503 && isSealedText(text)) return make("VAULT_SEALED", true);
  if (a.status >= 500) return make("VAULT_UNAVAILABLE", true);
  return make("VAULT_UNEXPECTED_RESPONSE", false);
}

function defaultText(status: number): string {
  switch (status) {
    case 404:
      return "not found";
    case 405:
      return "unsupported operation";
    case 429:
      return "rate limit quota exceeded";
    default:
      return "no error text";
  }
}

/** A transport failure (no HTTP answer) → VAULT_UNAVAILABLE (retryable) or VAULT_TLS. */
export function errorFromTransport(call: VaultCallInfo, address: string, err: unknown): RotatorError {
  const code = transportErrorCode(err) ?? "UNKNOWN";
  const where = `${call.method} ${call.path}`;
  const context = { method: call.method, path: call.path, errorCode: code };
  if (isTlsErrorCode(code)) {
    return new RotatorError(
      "VAULT_TLS",
      `${where}: TLS handshake with Vault at ${safeOrigin(address)} failed (${code})`,
      { retryable: false, context, cause: err },
    );
  }
  const reason = isUnavailableCode(code)
    ? code
    : `${code}: ${truncateOneLine(String((err as Error)?.message ?? err), 120)}`;
  return new RotatorError(
    "VAULT_UNAVAILABLE",
    `${where}: cannot reach Vault at ${safeOrigin(address)} (${reason})`,
    {
      retryable: true,
      context,
      cause: err,
    },
  );
}
