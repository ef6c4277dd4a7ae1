// `check` for provider=salesforce-eca: the credential chooses a configured connection this path may use (or
// there is only one) and KV holds the pair to rotate. eca_app_id / eca_app_name are required by the metadata parser already. Salesforce
// itself is checked per connection (checkSalesforce in the CLI); this never contacts it.
import { chooseDestination } from "../../inventory/credential-policy.ts";
import { API_KEY, CLIENT_ID } from "../../rotation/engine-deps.ts";
import {
  type CheckFinding,
  type CredentialFacts,
  fail,
  missingFields,
  type ProviderCheckContext,
} from "../credential-facts.ts";

export function checkSalesforceEca(facts: CredentialFacts, ctx: ProviderCheckContext): CheckFinding[] {
  const findings: CheckFinding[] = [];
  const choice = chooseDestination(ctx.destinations, "connection", facts.item.sfConnection, facts.item.path);
  if (!choice.ok) findings.push(fail(choice.why));
  findings.push(
    ...missingFields(facts, {
      [CLIENT_ID]: "the consumer key",
      [API_KEY]: "the consumer secret",
    }),
  );
  return findings;
}
