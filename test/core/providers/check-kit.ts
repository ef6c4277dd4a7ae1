// Builds the facts the provider checks see, from metadata and secret data as KV would hold them (secret fields
// wrapped in SecretValue, as the credential store hands them back).
import { classifyEntry, DEFAULT_CLASSIFY_DEFAULTS } from "../../../src/core/inventory/classify.ts";
import {
  type CredentialFacts,
  credentialFacts,
  type ProviderCheckContext,
} from "../../../src/core/providers/credential-facts.ts";
import { SecretValue } from "../../../src/core/secret-value.ts";
import { kvEntry } from "../../fakes/kv-entry-builder.ts";

export const NOW = new Date("2026-06-15T12:00:00Z");
export const PATH = "api-credentials/team/cred";

export const MC_ORIGIN = "https://mc123.auth.marketingcloudapis.com";

/** Destinations of the given names (origins made up), optionally limited to prefixes. */
export function destinations(
  connections: readonly string[],
  tenants: readonly string[] = ["mc"],
  prefixes?: readonly string[],
): ProviderCheckContext["destinations"] {
  return {
    connections: connections.map((name) => ({ name, origin: `https://${name}.my.salesforce.com`, prefixes })),
    tenants: tenants.map((name) => ({
      name,
      origin: name === "mc" ? MC_ORIGIN : `https://${name}.auth.marketingcloudapis.com`,
      prefixes,
    })),
  };
}

export const CTX: ProviderCheckContext = { destinations: destinations(["crm"]), kvMount: "secret", now: NOW };

const PLAIN = new Set(["client_id", "rotation_phase"]);

/** `data` undefined: the secret data was not read (as for provider=manual). */
export function factsOf(meta: Record<string, string>, data?: Record<string, string>): CredentialFacts {
  const item = classifyEntry(kvEntry(PATH, meta), NOW, DEFAULT_CLASSIFY_DEFAULTS);
  if (data === undefined) return credentialFacts(item);
  const wrapped = Object.fromEntries(
    Object.entries(data).map(([k, v]) => [k, PLAIN.has(k) ? v : SecretValue.of(v)]),
  );
  return credentialFacts(item, { version: 1, data: wrapped, customMetadata: meta });
}
