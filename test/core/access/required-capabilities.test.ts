import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config/load-config.ts";
import {
  type RequiredCapability,
  requiredCapabilities,
} from "../../../src/core/access/required-capabilities.ts";

const ENV = { VAULT_ADDR: "https://vault.example:8200", VAULT_TOKEN: "test-secret-token" };

function configFrom(yaml: string) {
  return loadConfig({ file: "/c.yaml", env: ENV, readFile: () => yaml });
}

/** path → sorted capabilities, merging entries that share a path, for compact expectations. */
function byPath(needs: readonly RequiredCapability[]): Record<string, string> {
  const out: Record<string, Set<string>> = {};
  for (const n of needs) {
    const caps = out[n.path] ?? new Set<string>();
    for (const c of n.capabilities) caps.add(c);
    out[n.path] = caps;
  }
  return Object.fromEntries(Object.entries(out).map(([p, caps]) => [p, [...caps].sort().join(",")]));
}

describe("requiredCapabilities", () => {
  it("lists the exact paths and capabilities of the default configuration", () => {
    expect(byPath(requiredCapabilities(loadConfig({ env: ENV })))).toEqual({
      "auth/token/lookup-self": "read",
      "auth/token/renew-self": "update",
      "sys/capabilities-self": "update",
      "secret/metadata/api-credentials/": "list",
      "secret/metadata/api-credentials/__probe__": "patch,read",
      "secret/detailed-metadata/api-credentials/": "list",
      "secret/data/api-credentials/__probe__": "create,patch,read,update",
      "secret/data/eca-rotator/__probe__": "create,delete,read,update",
      "secret/metadata/eca-rotator/": "list",
      "secret/metadata/eca-rotator/__probe__": "delete,read",
      "secret/config": "read",
    });
  });

  it("asks to read the mount's settings as optional: check warns, rotations never need it", () => {
    const need = requiredCapabilities(loadConfig({ env: ENV })).find((n) => n.path === "secret/config");
    expect(need).toMatchObject({ capabilities: ["read"], optional: true });
    expect(need?.why).toContain("delete_version_after");
  });

  it("gives every entry a reason that completes 'needed to …'", () => {
    for (const need of requiredCapabilities(loadConfig({ env: ENV }))) {
      expect(need.why).toMatch(/^[a-z]/);
      expect(need.capabilities.length).toBeGreaterThan(0);
    }
  });

  it.each<[string, string, string, string | undefined, boolean | undefined]>([
    [
      "marks bulk listing optional when listing is auto",
      "vault: { listing: auto }",
      "secret/detailed-metadata/api-credentials/",
      "list",
      true,
    ],
    [
      "requires bulk listing when listing is detailed",
      "vault: { listing: detailed }",
      "secret/detailed-metadata/api-credentials/",
      "list",
      undefined,
    ],
    [
      "leaves bulk listing out when listing is per-key",
      "vault: { listing: per-key }",
      "secret/detailed-metadata/api-credentials/",
      undefined,
      undefined,
    ],
    [
      "follows the configured mount",
      "vault: { kv_mount: team/kv }",
      "team/kv/metadata/api-credentials/",
      "list",
      undefined,
    ],
    [
      "follows the configured state prefix",
      "vault: { state_prefix: ops/rotator }",
      "secret/metadata/ops/rotator/__probe__",
      "read,delete",
      undefined,
    ],
    [
      "reads each connection's credentials",
      "salesforce: { connections: { prod: { my_domain_url: 'https://a.my.salesforce.com', credentials_path: eca-rotator/connections/prod } } }",
      "secret/data/eca-rotator/connections/prod",
      "read",
      undefined,
    ],
  ])("%s", (_name, yaml, path, caps, optional) => {
    const needs = requiredCapabilities(configFrom(yaml)).filter((n) => n.path === path);
    if (caps === undefined) {
      expect(needs).toEqual([]);
      return;
    }
    expect(needs.flatMap((n) => n.capabilities).join(",")).toBe(caps);
    expect(needs.every((n) => n.optional === optional)).toBe(true);
  });

  it("repeats the credential grants for every prefix", () => {
    const paths = requiredCapabilities(configFrom("vault: { prefixes: [team-a, team-b/api] }")).map(
      (n) => n.path,
    );
    for (const prefix of ["team-a", "team-b/api"]) {
      expect(paths).toContain(`secret/metadata/${prefix}/`);
      expect(paths).toContain(`secret/metadata/${prefix}/__probe__`);
      expect(paths).toContain(`secret/data/${prefix}/__probe__`);
      expect(paths).toContain(`secret/detailed-metadata/${prefix}/`);
    }
    expect(paths).not.toContain("secret/metadata/api-credentials/");
  });
});
