// The YAML configs the bench runs the rotator with: one per scenario, written to the run's temp folder.
import { writeFileSync } from "node:fs";
import path from "node:path";
import type { Config } from "../src/config/config-types.ts";
import { loadConfig } from "../src/config/load-config.ts";
import { MOUNT } from "./bench-vault.ts";

export interface ConfigSpec {
  readonly dir: string;
  readonly name: string;
  readonly prefix: string;
  readonly statePrefix: string;
  readonly simUrl?: string | undefined;
  readonly connPath?: string | undefined;
  readonly listing?: "auto" | "detailed" | "per-key";
  readonly scanConcurrency?: number;
  /** rotation: keys, e.g. "scan_interval: 5s". */
  readonly rotation?: readonly string[];
  readonly extraYaml?: readonly string[];
}

/** Writes the YAML and returns its path. */
export function writeConfig(spec: ConfigSpec): string {
  const file = path.join(spec.dir, `${spec.name}.yaml`);
  const lines = [
    "vault:",
    `  kv_mount: ${MOUNT}`,
    `  prefixes: [${spec.prefix}]`,
    `  state_prefix: ${spec.statePrefix}`,
    `  listing: ${spec.listing ?? "auto"}`,
    `  scan_concurrency: ${spec.scanConcurrency ?? 16}`,
  ];
  if (spec.simUrl !== undefined && spec.connPath !== undefined) {
    lines.push(
      "salesforce:",
      "  connections:",
      "    sim:",
      `      my_domain_url: ${spec.simUrl}`,
      `      credentials_path: ${spec.connPath}`,
    );
  }
  lines.push("rotation:", "  soak: 0s", ...(spec.rotation ?? []).map((l) => `  ${l}`));
  lines.push(...(spec.extraYaml ?? []), "");
  writeFileSync(file, lines.join("\n"));
  return file;
}

/** The Config the product would build from that file with VAULT_ADDR/VAULT_TOKEN set. */
export function readConfig(file: string, addr: string, token: string): Config {
  return loadConfig({ file, env: { VAULT_ADDR: addr, VAULT_TOKEN: token } });
}
