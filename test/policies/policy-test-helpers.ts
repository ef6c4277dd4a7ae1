// Loads a policy file from policies/ into the real server under a unique name and returns a client holding a
// token with only that policy. Tests seed under unique sub-paths of the policies' fixed default prefixes
// (api-credentials/<unique>/…, eca-rotator/<unique>/…), because the policy text names those prefixes.
import { readFileSync } from "node:fs";
import path from "node:path";
import { expect } from "vitest";
import { type AdminResponse, admin, uniqueName, type VaultAdmin } from "../support/vault-admin.ts";

export const MERGE_PATCH = { "Content-Type": "application/merge-patch+json" };

export function policyText(file: string): string {
  return readFileSync(path.resolve(import.meta.dirname, "../../policies", file), "utf8");
}

/**
 * A client whose token holds only `file`'s policy. With noDefaultPolicy the token also lacks Vault's built-in
 * "default" policy, so the policy is proven to stand alone.
 */
export async function clientWithPolicy(
  file: string,
  opts: { noDefaultPolicy?: boolean } = {},
): Promise<VaultAdmin> {
  const root = admin();
  const name = uniqueName(file.replace(/\.hcl$/, ""));
  await root.writePolicy(name, policyText(file));
  const token = await root.createToken({ policies: [name], noDefaultPolicy: opts.noDefaultPolicy ?? false });
  return root.withToken(token);
}

export function expectAllowed(res: AdminResponse, what: string): void {
  expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
}

export function expectDenied(res: AdminResponse, what: string): void {
  expect(res.status, `${what} should be refused by the policy`).toBe(403);
}

export interface PolicyStanza {
  readonly path: string;
  readonly capabilities: readonly string[];
}

/** The `path "…" { capabilities = [...] }` stanzas of an HCL policy (enough for our own files). */
export function policyStanzas(hcl: string): PolicyStanza[] {
  const stanzas: PolicyStanza[] = [];
  for (const m of hcl.matchAll(/^path\s+"([^"]+)"\s*\{([\s\S]*?)^\}/gm)) {
    const caps = /capabilities\s*=\s*\[([^\]]*)\]/.exec(m[2] ?? "");
    expect(caps, `capabilities of ${m[1]}`).not.toBeNull();
    stanzas.push({
      path: m[1] ?? "",
      capabilities: [...(caps?.[1] ?? "").matchAll(/"([a-z]+)"/g)].map((c) => c[1] ?? ""),
    });
  }
  return stanzas;
}

/** The stanza Vault applies to a concrete path: an exact match, else the longest matching `prefix*` glob. */
export function governingStanza(stanzas: readonly PolicyStanza[], apiPath: string): PolicyStanza | undefined {
  const exact = stanzas.find((s) => s.path === apiPath);
  if (exact) return exact;
  return stanzas
    .filter((s) => s.path.endsWith("*") && apiPath.startsWith(s.path.slice(0, -1)))
    .sort((a, b) => b.path.length - a.path.length)[0];
}
