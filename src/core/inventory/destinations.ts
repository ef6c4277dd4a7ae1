// Where a credential's secrets may be sent. Every host that receives a secret is named in the configuration
// (salesforce.connections for Salesforce orgs, marketing_cloud.tenants for Marketing Cloud auth hosts);
// custom_metadata, which operators and path writers can edit, may only *choose* one of them by name
// (`sf_connection`, `sfmc_tenant`), and a connection or tenant may be limited to some KV prefixes. This module
// is the one rule for that choice: the scan uses it to mark a credential invalid, the engine before it sends
// anything, and `check` before its live checks, so all three say the same thing.

/** One configured place secrets may go. */
export interface Destination {
  readonly name: string;
  /** scheme://host[:port] from the configuration: the only place this destination's secrets go. */
  readonly origin: string;
  /** When set, only credentials under one of these KV prefixes may use this destination. */
  readonly prefixes: readonly string[] | undefined;
}

/** The configured destinations, per kind. */
export interface Destinations {
  /** salesforce.connections: Salesforce orgs (My Domain), chosen by `sf_connection`. */
  readonly connections: readonly Destination[];
  /** marketing_cloud.tenants: Marketing Cloud auth hosts, chosen by `sfmc_tenant`. */
  readonly tenants: readonly Destination[];
}

export type DestinationKind = "connection" | "tenant";

const WORDS: Readonly<Record<DestinationKind, { key: string; section: string; what: string }>> = {
  connection: { key: "sf_connection", section: "salesforce.connections", what: "Salesforce connection" },
  tenant: { key: "sfmc_tenant", section: "marketing_cloud.tenants", what: "Marketing Cloud tenant" },
};

export type DestinationChoice =
  | { readonly ok: true; readonly destination: Destination }
  | { readonly ok: false; readonly why: string };

/**
 * The destination a credential at `path` uses: the one its metadata names, else the only one configured.
 * Refused when the name is unknown, when several are configured and none is named, or when the destination's
 * prefixes do not cover the path.
 */
export function chooseDestination(
  all: Destinations,
  kind: DestinationKind,
  named: string | undefined,
  path: string,
): DestinationChoice {
  const w = WORDS[kind];
  const list = kind === "connection" ? all.connections : all.tenants;
  const names = list.map((d) => d.name).join(", ");
  let destination: Destination | undefined;
  if (named !== undefined) {
    destination = list.find((d) => d.name === named);
    if (destination === undefined) {
      const configured = list.length === 0 ? "none is configured" : `configured: ${names}`;
      return { ok: false, why: `${w.key} ${named} is not in ${w.section} (${configured})` };
    }
  } else if (list.length === 1) {
    destination = list[0];
  } else if (list.length === 0) {
    return { ok: false, why: `no ${w.what} is configured (${w.section})` };
  } else {
    return { ok: false, why: `no ${w.key}, and ${list.length} are configured (${names}): name one` };
  }
  if (destination === undefined) return { ok: false, why: `no ${w.what} is configured (${w.section})` };
  if (!isWithinPrefixes(path, destination.prefixes)) {
    return {
      ok: false,
      why: `${w.key} ${destination.name} may not be used under this path (${w.section}.${destination.name}.prefixes)`,
    };
  }
  return { ok: true, destination };
}

/** True when `path` lies under one of `prefixes` (or no prefixes are set). */
function isWithinPrefixes(path: string, prefixes: readonly string[] | undefined): boolean {
  if (prefixes === undefined) return true;
  return prefixes.some((p) => path === p || path.startsWith(`${p}/`));
}

/** The destination of this kind named `name`, if it is (still) configured. */
export function findDestination(
  all: Destinations,
  kind: DestinationKind,
  name: string,
): Destination | undefined {
  return (kind === "connection" ? all.connections : all.tenants).find((d) => d.name === name);
}
