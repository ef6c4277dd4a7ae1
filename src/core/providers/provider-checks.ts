// `check`, per managed credential: each provider's own checks (its profile's `checks`). Invalid metadata (or an
// entry that could not be read) is one FAIL with the scan's reason; unmanaged entries are not checked. Which
// providers need their secret data read is said by each, so the caller reads no more than the checks use.
import type { InventoryItem } from "../inventory/inventory-item.ts";
import type { ProviderSet } from "../rotation/engine-deps.ts";
import {
  type CheckFinding,
  type CredentialFacts,
  fail,
  type ProviderCheckContext,
} from "./credential-facts.ts";
import { PROVIDERS } from "./provider-registry.ts";

/** Whether the item is checked at all: everything but unmanaged entries. */
export function isCheckedItem(item: InventoryItem): boolean {
  return item.state !== "unmanaged";
}

/** Whether the checks of this item read its secret data (field presence only). */
export function needsSecretData(item: InventoryItem, providers: ProviderSet = PROVIDERS): boolean {
  return item.state !== "invalid" && item.state !== "unmanaged"
    ? providers.profile(item.provider)?.checks?.needsSecretData === true
    : false;
}

/** Every problem found with one credential (empty: none), plus informational ok lines. */
export function checkCredential(
  facts: CredentialFacts,
  ctx: ProviderCheckContext,
  providers: ProviderSet = PROVIDERS,
): CheckFinding[] {
  const { item } = facts;
  if (item.state === "unmanaged") return [];
  if (item.state === "invalid" || item.provider === undefined) {
    return [fail(`invalid: ${item.reason ?? "metadata cannot be interpreted"}`)];
  }
  return providers.profile(item.provider)?.checks?.run(facts, ctx) ?? [];
}
