// Does a Marketing Cloud installed-package secret work? One client_credentials request to the tenant's
// `POST {auth}/v2/token`. 200 with an access token → ok; an OAuth error
// answer (401 invalid_client, 400 …) → refused with its code; no answer, a 5xx or a 429 → a retryable
// SALESFORCE_UNAVAILABLE. The token is thrown away unused: it lives 20 minutes and cannot be revoked. An answer
// larger than 1 MiB (a token answer is under 2 KiB) aborts the request: SALESFORCE_UNEXPECTED_RESPONSE.
import { RotatorError } from "../../core/errors.ts";
import type { SfmcTokenAnswer } from "../../core/rotation/engine-deps.ts";
import type { SecretValue } from "../../core/secret-value.ts";
import {
  AnswerTooLargeError,
  createHttpTransport,
  DEFAULT_ANSWER_CAP_BYTES,
  type HttpTransport,
  readCappedText,
  safeOrigin,
  transportErrorCode,
} from "../http/http-client.ts";

/** One v2/token request, for the engine's checks and `check`'s alike. */
export const SFMC_TOKEN_TIMEOUT_MS = 15_000;

export interface SfmcTokenCheckOptions {
  /** Injected in tests; by default a transport of its own, closed after the call. */
  readonly transport?: HttpTransport;
}

export async function verifySfmcSecret(
  authBaseUrl: string,
  clientId: string,
  secret: SecretValue,
  timeoutMs: number,
  opts: SfmcTokenCheckOptions = {},
): Promise<SfmcTokenAnswer> {
  const url = `${authBaseUrl.replace(/\/+$/, "")}/v2/token`;
  const where = safeOrigin(url);
  const transport: HttpTransport = opts.transport ?? createHttpTransport(timeoutMs);
  const own = opts.transport === undefined ? transport : undefined;
  try {
    let status: number | undefined;
    let text: string;
    try {
      const res = await transport.request(url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({
          grant_type: "client_credentials",
          client_id: clientId,
          client_secret: secret.reveal(),
        }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = res.statusCode;
      text = await readCappedText(res, DEFAULT_ANSWER_CAP_BYTES);
    } catch (err) {
      if (err instanceof AnswerTooLargeError) {
        throw new RotatorError(
          "SALESFORCE_UNEXPECTED_RESPONSE",
          `Marketing Cloud at ${where} answered HTTP ${status ?? "?"}, but ${err.message}`,
          { context: { step: "sfmc token", origin: where, status } },
        );
      }
      const code = transportErrorCode(err) ?? "UNKNOWN";
      throw new RotatorError(
        "SALESFORCE_UNAVAILABLE",
        `no answer from Marketing Cloud at ${where} (${code})`,
        {
          retryable: true,
          context: { step: "sfmc token", origin: where, transport: code },
        },
      );
    }
    return classify(status, text, where);
  } finally {
    await own?.close();
  }
}

function classify(status: number, text: string, where: string): SfmcTokenAnswer {
  const body = parse(text);
  if (status === 200 && typeof body?.["access_token"] === "string" && body["access_token"] !== "") {
    return { ok: true };
  }
  if (status >= 500 || status === 429) {
    throw new RotatorError("SALESFORCE_UNAVAILABLE", `Marketing Cloud at ${where} answered HTTP ${status}`, {
      retryable: true,
      context: { step: "sfmc token", origin: where, status },
    });
  }
  const error = body?.["error"];
  if (status >= 400 && typeof error === "string" && /^[a-z_]{1,64}$/.test(error)) {
    return { ok: false, refusal: error };
  }
  throw new RotatorError(
    "SALESFORCE_UNEXPECTED_RESPONSE",
    `Marketing Cloud at ${where} answered HTTP ${status} without a token or an OAuth error`,
    { context: { step: "sfmc token", origin: where, status } },
  );
}

function parse(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === "object" && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
