// The exact Vault API paths and capabilities the rotator needs for a configuration: `check` asks
// sys/capabilities-self about each path, and policies/rotator.hcl grants exactly this for the default config
// (a test keeps the two in step). Pure.
//
// Paths are concrete probes that capabilities-self can evaluate: `<folder>/` for LIST, and a made-up entry
// `<folder>/__probe__` for per-entry operations, which a `<folder>/*` policy glob matches like any real entry.
// Paths are relative to the token's namespace (the client sends X-Vault-Namespace), so no namespace prefix.
import type { Config } from "../../config/config-types.ts";

type Capability = "create" | "read" | "update" | "patch" | "delete" | "list";

export interface RequiredCapability {
  readonly path: string;
  readonly capabilities: readonly Capability[];
  /** Completes "needed to …": what the rotator does with it. */
  readonly why: string;
  /** A missing optional capability is a warning: the rotator falls back to something slower. */
  readonly optional?: boolean;
}

/** The entry name used in probe paths. It never exists; capabilities-self evaluates policy globs only. */
const PROBE_ENTRY = "__probe__";

export function requiredCapabilities(cfg: Config): RequiredCapability[] {
  const { kvMount: mount, prefixes, statePrefix, listing } = cfg.vault;
  const needs: RequiredCapability[] = [
    { path: "auth/token/lookup-self", capabilities: ["read"], why: "learn the token's TTL at start-up" },
    { path: "auth/token/renew-self", capabilities: ["update"], why: "renew the token before it expires" },
    { path: "sys/capabilities-self", capabilities: ["update"], why: "let `check` verify these capabilities" },
  ];

  for (const prefix of prefixes) {
    needs.push(
      {
        path: `${mount}/metadata/${prefix}/`,
        capabilities: ["list"],
        why: `list the credentials under ${prefix}/ (scan)`,
      },
      {
        path: `${mount}/metadata/${prefix}/${PROBE_ENTRY}`,
        capabilities: ["read"],
        why: `read each credential's metadata under ${prefix}/ (scan: deadlines and policy)`,
      },
    );
    if (listing !== "per-key") {
      needs.push({
        path: `${mount}/detailed-metadata/${prefix}/`,
        capabilities: ["list"],
        why: `list metadata in bulk under ${prefix}/ (OpenBao; else one read per credential)`,
        ...(listing === "auto" ? { optional: true } : {}),
      });
    }
    needs.push(
      {
        path: `${mount}/data/${prefix}/${PROBE_ENTRY}`,
        capabilities: ["read", "create", "update", "patch"],
        why: `read the current pair and write the rotated one as a new version with cas under ${prefix}/ (rotation)`,
      },
      {
        path: `${mount}/metadata/${prefix}/${PROBE_ENTRY}`,
        capabilities: ["patch"],
        why: `stamp rotation status and clear triggers with a metadata PATCH under ${prefix}/ (rotation)`,
      },
    );
  }

  needs.push(
    {
      path: `${mount}/data/${statePrefix}/${PROBE_ENTRY}`,
      capabilities: ["create", "read", "update", "delete"],
      why: `keep rotation journals and leases under ${statePrefix}/ (state, written with cas)`,
    },
    {
      path: `${mount}/metadata/${statePrefix}/`,
      capabilities: ["list"],
      why: `find unfinished rotations under ${statePrefix}/ (state)`,
    },
    {
      path: `${mount}/metadata/${statePrefix}/${PROBE_ENTRY}`,
      capabilities: ["read", "delete"],
      why: `read state versions and remove finished state entries for good under ${statePrefix}/ (state)`,
    },
  );

  needs.push({
    path: `${mount}/config`,
    capabilities: ["read"],
    why: "let `check` see the mount's delete_version_after, which must never expire journal and lease versions",
    optional: true,
  });

  for (const connection of cfg.salesforce.connections) {
    needs.push({
      path: `${mount}/data/${connection.credentialsPath}`,
      capabilities: ["read"],
      why: `read the client id and secret of Salesforce connection ${connection.name}`,
    });
  }
  return needs;
}
