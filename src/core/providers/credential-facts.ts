// What a provider's `check` sees of one managed credential: the scanned item, its custom_metadata and, for the
// providers that need it, which secret-data fields are set. Secret values never get here: a secret field is
// only "present" or not, so a finding cannot print one by mistake.
import type { Destinations } from "../inventory/credential-policy.ts";
import type { InventoryItem } from "../inventory/inventory-item.ts";
import type { StoredCredential } from "../rotation/rotation-ports.ts";

export type CheckMark = "ok" | "warn" | "FAIL";

/** One line of `check` about one credential; the caller adds the topic (the path). */
export interface CheckFinding {
  readonly mark: CheckMark;
  readonly text: string;
}

export interface CredentialFacts {
  readonly item: InventoryItem;
  /** custom_metadata as read with the data; empty when the provider's data was not read. */
  readonly customMetadata: Readonly<Record<string, string>>;
  /** Data fields holding a non-empty value (secret or not). */
  readonly present: ReadonlySet<string>;
  /** Data fields that are not secrets (client_id, rotation_phase), with their values. */
  readonly plain: Readonly<Record<string, string>>;
}

/** What the checks need of the configuration. */
export interface ProviderCheckContext {
  /** The configured Salesforce connections and Marketing Cloud tenants (where secrets may go). */
  readonly destinations: Destinations;
  /** The KV mount, for the commands a finding suggests. */
  readonly kvMount: string;
  readonly now: Date;
}

/** Facts from a scanned item and, when read, its current version; secret values are dropped here. */
export function credentialFacts(item: InventoryItem, cred?: StoredCredential): CredentialFacts {
  const present = new Set<string>();
  const plain: Record<string, string> = {};
  for (const [name, value] of Object.entries(cred?.data ?? {})) {
    if (typeof value === "string") {
      plain[name] = value;
      if (value !== "") present.add(name);
    } else if (value.reveal() !== "") present.add(name);
  }
  return { item, customMetadata: cred?.customMetadata ?? {}, present, plain };
}

export function fail(text: string): CheckFinding {
  return { mark: "FAIL", text };
}

export function warn(text: string): CheckFinding {
  return { mark: "warn", text };
}

export function ok(text: string): CheckFinding {
  return { mark: "ok", text };
}

/** FAIL for each field the secret data lacks; `fields` maps each name to what it holds. */
export function missingFields(
  facts: CredentialFacts,
  fields: Readonly<Record<string, string>>,
): CheckFinding[] {
  return Object.entries(fields)
    .filter(([name]) => !facts.present.has(name))
    .map(([name, what]) => fail(`no ${name} in the secret data (${what})`));
}
