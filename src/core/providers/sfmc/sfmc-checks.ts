// `check` for provider=sfmc: the configuration a rotation needs (sfmc_auth_url, client_id, api_key), the expiry
// it tracks (expires_at), a staged secret waiting in pending_api_key, and what the live v2/token check found.
// Pure: the caller reads KV and asks Marketing Cloud; secret values never reach a finding.
import { API_KEY, CLIENT_ID } from "../../rotation/credential-fields.ts";
import type { SfmcTokenAnswer } from "../../rotation/engine-deps.ts";
import {
  type CheckFinding,
  type CredentialFacts,
  fail,
  missingFields,
  ok,
  type ProviderCheckContext,
  warn,
} from "../credential-facts.ts";
import { PENDING_API_KEY, SFMC_AUTH_URL, sfmcAuthUrl } from "./sfmc-fields.ts";

export function checkSfmc(facts: CredentialFacts, ctx: ProviderCheckContext): CheckFinding[] {
  const findings: CheckFinding[] = [];
  const url = sfmcAuthUrl(facts);
  if (!url.ok) findings.push(fail(url.why));
  findings.push(
    ...missingFields(facts, {
      [CLIENT_ID]: "the installed package's client id",
      [API_KEY]: "the secret in use",
    }),
  );
  const expires = facts.item.expiresAt;
  if (expires === undefined) {
    findings.push(
      warn(
        `no expires_at: the 180-day expiry is not tracked; copy the date from Setup (Installed Packages): vault kv metadata patch -custom-metadata=expires_at=<RFC 3339 time> ${ctx.kvMount}/${facts.item.path}`,
      ),
    );
  } else if (expires.getTime() <= ctx.now.getTime()) {
    findings.push(
      fail(
        `expires_at ${expires.toISOString()} has passed: the secret no longer works; stage a new one in Setup and paste it into ${PENDING_API_KEY}`,
      ),
    );
  }
  if (facts.present.has(PENDING_API_KEY)) {
    findings.push(
      ok(`a staged secret is waiting in ${PENDING_API_KEY}; the rotator verifies it at the next scan`),
    );
  }
  return findings;
}

/** Where the live check asks for a token, or undefined when the configuration already fails it. */
export function sfmcLiveTarget(facts: CredentialFacts): { url: string; clientId: string } | undefined {
  const url = sfmcAuthUrl(facts);
  const clientId = facts.plain[CLIENT_ID];
  if (!url.ok || clientId === undefined || clientId === "" || !facts.present.has(API_KEY)) return undefined;
  return { url: url.url, clientId };
}

/** The live check's answer for the current api_key at `url` (only its host is shown). */
export function sfmcTokenFinding(answer: SfmcTokenAnswer, url: string): CheckFinding {
  const host = new URL(url).host;
  return answer.ok
    ? ok(`the current ${API_KEY} gets a token at ${host}`)
    : fail(
        `Marketing Cloud at ${host} refuses the current ${API_KEY} (${answer.refusal}): check ${CLIENT_ID} and ${API_KEY}, and ${SFMC_AUTH_URL}`,
      );
}
