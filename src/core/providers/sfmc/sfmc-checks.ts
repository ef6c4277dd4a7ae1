// `check` for provider=sfmc: the configuration a rotation needs (a configured tenant this path may use,
// client_id, api_key), the expiry it tracks (expires_at), a staged secret waiting in pending_api_key, and what
// the live v2/token check found. Pure: the caller reads KV and asks Marketing Cloud, and only ever at the auth
// host the configuration names for the tenant; secret values never reach a finding.
import { chooseDestination, type DestinationChoice } from "../../inventory/credential-policy.ts";
import type { SfmcTokenAnswer } from "../../rotation/engine-deps.ts";
import { API_KEY, CLIENT_ID } from "../../rotation/engine-deps.ts";
import {
  type CheckFinding,
  type CredentialFacts,
  fail,
  missingFields,
  ok,
  type ProviderCheckContext,
  warn,
} from "../credential-facts.ts";
import { PENDING_API_KEY } from "./sfmc-fields.ts";

function tenantOf(facts: CredentialFacts, ctx: ProviderCheckContext): DestinationChoice {
  return chooseDestination(ctx.destinations, "tenant", facts.item.sfmcTenant, facts.item.path);
}

export function checkSfmc(facts: CredentialFacts, ctx: ProviderCheckContext): CheckFinding[] {
  const findings: CheckFinding[] = [];
  const tenant = tenantOf(facts, ctx);
  if (!tenant.ok) findings.push(fail(tenant.why));
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

/** Where the live check asks for a token (a configured tenant's origin), or undefined when the check fails. */
export function sfmcLiveTarget(
  facts: CredentialFacts,
  ctx: ProviderCheckContext,
): { url: string; tenant: string; clientId: string } | undefined {
  const tenant = tenantOf(facts, ctx);
  const clientId = facts.plain[CLIENT_ID];
  if (!tenant.ok || clientId === undefined || clientId === "" || !facts.present.has(API_KEY))
    return undefined;
  return { url: tenant.destination.origin, tenant: tenant.destination.name, clientId };
}

/** The live check's answer for the current api_key at the tenant (only its host is shown). */
export function sfmcTokenFinding(
  answer: SfmcTokenAnswer,
  target: { url: string; tenant: string },
): CheckFinding {
  const host = new URL(target.url).host;
  return answer.ok
    ? ok(`the current ${API_KEY} gets a token at ${host} (tenant ${target.tenant})`)
    : fail(
        `Marketing Cloud at ${host} (tenant ${target.tenant}) refuses the current ${API_KEY} (${answer.refusal}): check ${CLIENT_ID} and ${API_KEY}, and sfmc_tenant`,
      );
}
