// Does a pair work? verifyPair: a token request with the pair, polled with exponential backoff and jitter while
// Salesforce still answers invalid_client_id / invalid_client (a new pair propagating) or
// is unavailable. provePairDead: one token request that must be refused.
// A token request is the whole proof that a pair logs in: the token endpoint is where a consumer's pair is
// authenticated, and an issued token is Salesforce accepting it. What a token may do (scopes, the run-as user,
// API access) belongs to the consumer's app, which a rotation does not change, so a call with the token (userinfo)
// would prove nothing more about the pair and cost one more request per check.
// The token a proof is given is dropped at once, not revoked: it grants no more than the pair that minted it, it is
// never stored, logged or sent anywhere, and Salesforce ends its session after the app's session timeout. A revoke
// would cost one more call per proof (three per rotation) and protect against nobody: whoever could take the
// token from this process's memory could take the pair itself.

import { isRotatorError, type RotatorError } from "../../core/errors.ts";
import type { SecretValue } from "../../core/secret-value.ts";
import type { Clock } from "../../core/time.ts";
import { backoffDelayMs } from "../http/backoff.ts";
import type { PairCheck, PairDeathProof, VerifyPairOptions } from "./salesforce-eca-types.ts";
import type { TokenRefusal } from "./salesforce-errors.ts";
import type { SalesforceHttp, SalesforceLog, Sleep } from "./salesforce-http.ts";
import { clientCredentialsForm, requestToken } from "./salesforce-oauth.ts";

export const USERINFO_PATH = "/services/oauth2/userinfo";

export interface PairCheckDeps {
  readonly http: SalesforceHttp;
  /** My Domain origin: where token requests go, and the only origin a token answer may send us to. */
  readonly origin: string;
  /** The configured connection's name, for errors that name its config key. */
  readonly connection?: string | undefined;
  readonly log: SalesforceLog;
  readonly sleep: Sleep;
  readonly random: () => number;
}

function refusalOf(err: RotatorError): TokenRefusal | undefined {
  const r = err.context["reason"];
  return typeof r === "string" ? (r as TokenRefusal) : undefined;
}

function isPropagationRefusal(err: RotatorError): boolean {
  const reason = refusalOf(err);
  return (
    err.code === "SALESFORCE_AUTH_FAILED" && (reason === "invalid_client_id" || reason === "invalid_client")
  );
}

/** Never throws a RotatorError: failures are a {ok: false} value. */
export async function verifyPair(
  deps: PairCheckDeps,
  clientId: string,
  clientSecret: SecretValue,
  opts: VerifyPairOptions,
): Promise<PairCheck> {
  const step = "verify pair";
  const clock: Clock = deps.http.clock;
  const start = clock.now().getTime();
  const deadline = start + opts.timeoutMs;
  const form = clientCredentialsForm(clientId, clientSecret);
  for (let attempts = 1; ; attempts++) {
    let failure: RotatorError;
    try {
      // Each attempt gets the full call timeout: the deadline decides whether another attempt starts, so the
      // last one (at the deadline) is not cut short into a meaningless timeout.
      await requestToken(deps.http, deps.origin, form, {
        step,
        connection: deps.connection,
        maxRetries: 0,
        signal: opts.signal,
      });
      return { ok: true, elapsedMs: clock.now().getTime() - start, attempts };
    } catch (err) {
      if (!isRotatorError(err)) throw err;
      failure = err;
    }
    const reason = refusalOf(failure);
    const fail = (): PairCheck => ({
      ok: false,
      code: failure.code,
      reason,
      error: failure,
      elapsedMs: clock.now().getTime() - start,
      attempts,
    });
    const pollable =
      isPropagationRefusal(failure) || (failure.code === "SALESFORCE_UNAVAILABLE" && failure.retryable);
    const now = clock.now().getTime();
    if (!pollable || now >= deadline || opts.signal?.aborted) return fail();
    const delayMs = Math.min(
      deadline - now,
      backoffDelayMs(attempts - 1, {
        baseMs: opts.initialDelayMs ?? 1_000,
        capMs: opts.maxDelayMs ?? 30_000,
        random: deps.random,
      }),
    );
    deps.log.debug({ step, attempt: attempts, code: failure.code, reason, delayMs }, "pair not accepted yet");
    try {
      await deps.sleep(delayMs, opts.signal);
    } catch {
      return fail();
    }
  }
}

/**
 * {dead: true} only on invalid_client_id: Salesforce no longer knows the key. invalid_client (the key is known,
 * the secret wrong) and an issued token are {dead: false}. Anything else throws (inconclusive).
 */
export async function provePairDead(
  deps: PairCheckDeps,
  clientId: string,
  clientSecret: SecretValue,
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<PairDeathProof> {
  const step = "prove pair dead";
  try {
    await requestToken(deps.http, deps.origin, clientCredentialsForm(clientId, clientSecret), {
      step,
      connection: deps.connection,
      ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
      signal: opts.signal,
    });
  } catch (err) {
    const reason = isRotatorError(err, "SALESFORCE_AUTH_FAILED") ? refusalOf(err) : undefined;
    if (reason === "invalid_client_id") return { dead: true, reason };
    if (reason === "invalid_client") return { dead: false, answer: reason };
    throw err;
  }
  return { dead: false, answer: "token" };
}
