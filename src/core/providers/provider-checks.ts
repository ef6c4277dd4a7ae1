// `check`, per managed credential: dispatch on the provider to its pure checks. Invalid metadata (or an entry
// that could not be read) is one FAIL with the scan's reason; unmanaged entries are not checked. Which providers
// need their secret data read is said here, so the caller reads no more than the checks use.
import type { InventoryItem } from "../inventory/inventory-item.ts";
import type { Provider } from "../inventory/policy-fields.ts";
import { checkManual } from "../manual/manual-checks.ts";
import {
  type CheckFinding,
  type CredentialFacts,
  fail,
  type ProviderCheckContext,
} from "./credential-facts.ts";
import { checkGenerated } from "./generated/generated-checks.ts";
import { checkSalesforceEca } from "./salesforce-eca/salesforce-eca-checks.ts";
import { checkSfmc } from "./sfmc/sfmc-checks.ts";

const NEEDS_DATA: Readonly<Record<Provider, boolean>> = {
  "salesforce-eca": true,
  sfmc: true,
  generated: true,
  manual: false,
};

/** Whether the item is checked at all: everything but unmanaged entries. */
export function isCheckedItem(item: InventoryItem): boolean {
  return item.state !== "unmanaged";
}

/** Whether the checks of this item read its secret data (field presence only). */
export function needsSecretData(item: InventoryItem): boolean {
  return item.state !== "invalid" && item.state !== "unmanaged" && item.provider !== undefined
    ? NEEDS_DATA[item.provider]
    : false;
}

/** Every problem found with one credential (empty: none), plus informational ok lines. */
export function checkCredential(facts: CredentialFacts, ctx: ProviderCheckContext): CheckFinding[] {
  const { item } = facts;
  if (item.state === "unmanaged") return [];
  if (item.state === "invalid" || item.provider === undefined) {
    return [fail(`invalid: ${item.reason ?? "metadata cannot be interpreted"}`)];
  }
  switch (item.provider) {
    case "salesforce-eca":
      return checkSalesforceEca(facts, ctx);
    case "sfmc":
      return checkSfmc(facts, ctx);
    case "generated":
      return checkGenerated(facts, ctx);
    case "manual":
      return checkManual(facts);
  }
}
