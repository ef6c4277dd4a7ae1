// One error class with a closed code union (house-style 4.5). Codes are stable strings users can grep for.
// Messages are "public": safe for logs, chat and HTTP. They never carry secret values or response bodies.

export type ErrorCode =
  // configuration and usage
  | "CONFIG_INVALID"
  | "USAGE"
  // per-credential policy (custom_metadata)
  | "POLICY_INVALID"
  | "POLICY_SELF_ROTATION"
  | "POLICY_CONSUMER_OWNED" // another KV path owns this app consumer; `eca-rotator adopt PATH` moves it
  // Vault / OpenBao
  | "VAULT_UNAVAILABLE"
  | "VAULT_SEALED"
  | "VAULT_PERMISSION_DENIED"
  | "VAULT_AUTH_FAILED"
  | "VAULT_NOT_FOUND"
  | "VAULT_CAS_CONFLICT"
  | "VAULT_BAD_REQUEST"
  | "VAULT_RATE_LIMITED"
  | "VAULT_NOT_KV_V2"
  | "VAULT_NOT_MANAGED"
  | "VAULT_TLS"
  | "VAULT_UNEXPECTED_RESPONSE"
  // Salesforce (the Salesforce issue fills these in)
  | "SALESFORCE_AUTH_FAILED"
  | "SALESFORCE_SESSION_EXPIRED"
  | "SALESFORCE_RATE_LIMITED"
  | "SALESFORCE_NOT_ENABLED"
  | "SALESFORCE_NOT_FOUND"
  | "SALESFORCE_STAGED_CONFLICT"
  | "SALESFORCE_UNAVAILABLE"
  | "SALESFORCE_UNEXPECTED_RESPONSE"
  // the rotation engine (src/core/rotation) and its state under state_prefix
  | "ROTATION_JOURNAL_CORRUPT" // a journal or lease record that does not parse: reported, never guessed at
  | "ROTATION_LEASE_HELD" // another owner holds the credential's lease, or ours was taken over (fence moved on)
  | "ROTATION_STATE_MISMATCH" // Salesforce, KV or the journal are not in the state the journal expects
  | "ROTATION_VERIFY_FAILED" // a pair could not log in within verify_timeout, or the old pair still logs in
  | "ROTATION_ROLLBACK_REFUSED" // rollback asked for after promotion (no way back at Salesforce) or with no rotation
  | "ROTATION_POSSESSION_UNPROVEN" // the secret in the path's KV does not work: the path does not hold the consumer
  | "ROTATION_RESOLVE_REFUSED" // resolve asked for a rotation that is not parked (running, waiting) or for none
  | "ROTATION_IN_PROGRESS_ELSEWHERE" // rotation_state says in_progress/awaiting_promotion but no journal is here
  // sinks
  | "NOTIFY_FAILED"
  | "AUDIT_FAILED"
  | "INTERNAL_INVARIANT";

/** Context is logged; it must hold identifiers only (paths, statuses, request ids), never secret values. */
export type ErrorContext = Readonly<Record<string, string | number | boolean | undefined>>;

export class RotatorError extends Error {
  override readonly name = "RotatorError";
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly context: ErrorContext;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { retryable?: boolean; context?: ErrorContext; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.retryable = opts.retryable ?? false;
    this.context = opts.context ?? {};
  }

  /** One line for terminals and chat: "VAULT_SEALED: Vault is sealed (GET secret/metadata/x)". */
  toLine(): string {
    return `${this.code}: ${this.message}`;
  }
}

export function isRotatorError(err: unknown, code?: ErrorCode): err is RotatorError {
  return err instanceof RotatorError && (code === undefined || err.code === code);
}

/** Bounded label for metrics and reports: the code of a RotatorError, else "UNCLASSIFIED". */
export function classifyError(err: unknown): ErrorCode | "UNCLASSIFIED" {
  return err instanceof RotatorError ? err.code : "UNCLASSIFIED";
}
