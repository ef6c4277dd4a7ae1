// What the Salesforce client returns: ids as Salesforce sent them (15 or 18 characters; compare with
// sameSalesforceId), URLs as opaque relative paths, secrets as SecretValue.
import type { ErrorCode, RotatorError } from "../../core/errors.ts";
import type { SecretValue } from "../../core/secret-value.ts";
import type { TokenRefusal } from "./salesforce-http.ts";

export interface EcaApp {
  /** The usage listing's `identifier` (15 characters there). */
  readonly appId: string;
  readonly developerName: string;
}

export interface EcaConsumer {
  readonly id: string;
  /** The consumer key (client id) of the primary set. Not secret, but keep it out of messages anyway. */
  readonly key: string | undefined;
  readonly name: string | undefined;
  readonly stagedCredentialsUrl: string | undefined;
  readonly url: string | undefined;
}

export type ConsumerPart = "key" | "secret" | "keyandsecret";

/** The primary (main) set of a consumer, as far as `part` asked for it. */
export interface ConsumerCredentials {
  readonly id: string;
  readonly key: string | undefined;
  readonly secret: SecretValue | undefined;
  readonly name: string | undefined;
}

/** Wire values are lower case; the docs capitalise them. */
export type StagedState = "active" | "rotated" | "expired";

export interface StagedCredential {
  readonly id: string;
  readonly state: StagedState;
  readonly key: string | undefined;
  readonly secret: SecretValue | undefined;
  readonly createdBy: string | undefined;
  readonly createdDate: string | undefined;
  readonly expirationDate: string | undefined;
  /** Opaque relative path; may end in the 15-character id even when `id` has 18. */
  readonly url: string | undefined;
}

/** The answer of POST staged and PATCH rotate: always carries the pair. */
export interface IssuedStagedCredential extends StagedCredential {
  readonly key: string;
  readonly secret: SecretValue;
}

export type PairCheck =
  | { readonly ok: true; readonly elapsedMs: number; readonly attempts: number }
  | {
      readonly ok: false;
      readonly code: ErrorCode;
      /** For SALESFORCE_AUTH_FAILED: which refusal (invalid_client_id while a new pair propagates, say). */
      readonly reason: TokenRefusal | undefined;
      /** The last failure (secret-free), for logs. */
      readonly error: RotatorError;
      readonly elapsedMs: number;
      readonly attempts: number;
    };

/**
 * What one login with an old pair showed. Only invalid_client_id (the consumer key is unknown) proves the key
 * dead; invalid_client means Salesforce still knows the key and only the secret was wrong.
 */
export type PairDeathProof =
  | { readonly dead: true; readonly reason: "invalid_client_id" }
  | { readonly dead: false; readonly answer: "token" | "invalid_client" };

export interface VerifyPairOptions {
  /** Give up polling after this long (propagation of a new pair can take minutes). */
  readonly timeoutMs: number;
  /** First pause between attempts, doubled each time with jitter. Default 1 s. */
  readonly initialDelayMs?: number;
  /** Longest pause between attempts. Default 30 s. */
  readonly maxDelayMs?: number;
  readonly signal?: AbortSignal;
}
