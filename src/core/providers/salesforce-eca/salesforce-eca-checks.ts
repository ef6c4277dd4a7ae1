// `check` for provider=salesforce-eca: the credential names a configured connection (or there is only one) and
// KV holds the pair to rotate. eca_app_id / eca_app_name are required by the metadata parser already. Salesforce
// itself is checked per connection (checkSalesforce in the CLI); this never contacts it.
import { API_KEY, CLIENT_ID } from "../../rotation/credential-fields.ts";
import {
  type CheckFinding,
  type CredentialFacts,
  fail,
  missingFields,
  type ProviderCheckContext,
} from "../credential-facts.ts";

export function checkSalesforceEca(facts: CredentialFacts, ctx: ProviderCheckContext): CheckFinding[] {
  const findings: CheckFinding[] = [];
  const named = facts.item.sfConnection;
  const known = ctx.connections.length === 0 ? "none" : ctx.connections.join(", ");
  if (named !== undefined && !ctx.connections.includes(named)) {
    findings.push(fail(`sf_connection "${named}" is not a configured connection (configured: ${known})`));
  } else if (named === undefined && ctx.connections.length !== 1) {
    findings.push(
      fail(
        ctx.connections.length === 0
          ? "no Salesforce connection is configured (salesforce.connections)"
          : `no sf_connection and several connections configured (${known}): set sf_connection`,
      ),
    );
  }
  findings.push(
    ...missingFields(facts, {
      [CLIENT_ID]: "the consumer key",
      [API_KEY]: "the consumer secret",
    }),
  );
  return findings;
}
