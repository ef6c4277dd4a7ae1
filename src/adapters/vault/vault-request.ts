// The shapes of one low-level Vault call, shared by the client, the auth methods and the KV v2 wrapper.
import type { z } from "zod";
import { RotatorError } from "../../core/errors.ts";
import type { SecretValue } from "../../core/secret-value.ts";

type VaultMethod = "GET" | "LIST" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface VaultRequest {
  readonly method: VaultMethod;
  /** API path relative to /v1/, already URL-encoded, without a query string (it appears in error messages). */
  readonly path: string;
  /** Query parameters; never put secrets here. */
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** JSON body. */
  readonly body?: unknown;
  /** Send the body as `application/merge-patch+json` (PATCH on data/ and metadata/). */
  readonly mergePatch?: boolean;
  /**
   * Whether the call may be retried after a transport failure, 5xx or 429. Defaults to true for GET and
   * LIST and false for everything else: data writes are never retried blindly.
   */
  readonly idempotent?: boolean;
  /** Which token to send: the client's session token (default), none, or an explicit one (unwrap). */
  readonly token?: "session" | "none" | SecretValue;
  /** Non-2xx statuses that are answers to the caller rather than errors (404 on LIST, say). */
  readonly accept?: readonly number[];
  /** Extra headers (X-Vault-Wrap-TTL, …). */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface VaultResponse {
  readonly status: number;
  /** Parsed JSON, or undefined for an empty body (204, PATCH 404). */
  readonly body: unknown;
  readonly requestId: string | undefined;
  readonly errors: readonly string[];
  readonly warnings: readonly string[];
  /** The server's Date header (HTTP date, whole seconds), for clock checks; undefined when absent. */
  readonly date?: string | undefined;
}

/** Validates a response body; a mismatch is VAULT_UNEXPECTED_RESPONSE naming the call and the field paths. */
export function parseVaultBody<S extends z.ZodType>(
  schema: S,
  res: VaultResponse,
  call: { readonly method: string; readonly path: string },
): z.output<S> {
  const parsed = schema.safeParse(res.body);
  if (parsed.success) return parsed.data;
  // Issue paths and messages only: zod issues can quote input values, which may be secret.
  const where = parsed.error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join(".") || "(body)"}: ${i.code}`)
    .join("; ");
  throw new RotatorError(
    "VAULT_UNEXPECTED_RESPONSE",
    `${call.method} ${call.path} → HTTP ${res.status}: unexpected response shape (${where})`,
    { context: { method: call.method, path: call.path, status: res.status, requestId: res.requestId } },
  );
}
