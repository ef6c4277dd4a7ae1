import { beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load-config.ts";
import { requiredCapabilities } from "../../src/core/access/required-capabilities.ts";
import { admin, uniqueName, type VaultAdmin } from "../support/vault-admin.ts";
import {
  clientWithPolicy,
  expectAllowed,
  expectDenied,
  governingStanza,
  MERGE_PATCH,
  policyStanzas,
  policyText,
} from "./policy-test-helpers.ts";

/** The default configuration plus one Salesforce connection at its documented place. */
function defaultConfigWithConnection() {
  return loadConfig({
    file: "/c.yaml",
    env: { VAULT_ADDR: "http://127.0.0.1:8200", VAULT_TOKEN: "test-secret-t" },
    readFile: () =>
      "salesforce: { connections: { prod: { my_domain_url: 'https://acme.my.salesforce.com', credentials_path: eca-rotator/connections/prod } } }",
  });
}

describe("policies/rotator.hcl on a real server", () => {
  const u = uniqueName("rot");
  const cred = `api-credentials/${u}/stripe`;
  const conn = `eca-rotator/connections/${u}`;
  let rotator: VaultAdmin;

  beforeAll(async () => {
    const root = admin();
    await root.seedKv(
      "secret",
      cred,
      { client_id: "test-id", api_key: "test-secret-k1" },
      { provider: "salesforce-eca", owner: "payments" },
    );
    await root.seedKv("secret", conn, { client_id: "test-admin-id", client_secret: "test-secret-admin" });
    rotator = await clientWithPolicy("rotator.hcl", { noDefaultPolicy: true });
  });

  it("grants every capability requiredCapabilities lists for the default config, per sys/capabilities-self", async () => {
    const needs = requiredCapabilities(defaultConfigWithConnection());
    const paths = [...new Set(needs.map((n) => n.path))];
    const body = (await rotator.must("POST", "sys/capabilities-self", { paths })) as {
      data?: Record<string, string[]>;
    } & Record<string, unknown>;
    for (const need of needs) {
      const granted = body.data?.[need.path] ?? (body[need.path] as string[] | undefined) ?? [];
      expect(granted, `${need.path} (${need.why})`).toEqual(expect.arrayContaining([...need.capabilities]));
    }
  });

  it("grants nothing that requiredCapabilities does not ask for (every capability in the file is used)", () => {
    const stanzas = policyStanzas(policyText("rotator.hcl"));
    const used = new Set<string>();
    for (const need of requiredCapabilities(defaultConfigWithConnection())) {
      const stanza = governingStanza(stanzas, need.path);
      expect(stanza, need.path).toBeDefined();
      for (const cap of need.capabilities) used.add(`${stanza?.path} ${cap}`);
    }
    const granted = stanzas.flatMap((s) =>
      s.capabilities.filter((c) => c !== "deny").map((c) => `${s.path} ${c}`),
    );
    expect(granted.filter((g) => !used.has(g))).toEqual([]);
  });

  it("scans: lists the prefix, reads metadata, and lists metadata in bulk", async () => {
    const list = await rotator.request("LIST", `secret/metadata/api-credentials/${u}/`);
    expectAllowed(list, "LIST metadata");
    expect(list.body).toMatchObject({ data: { keys: ["stripe"] } });
    expectAllowed(await rotator.request("GET", `secret/metadata/${cred}`), "GET metadata");
    expectAllowed(
      await rotator.request("LIST", `secret/detailed-metadata/api-credentials/${u}/`),
      "LIST detailed-metadata",
    );
  });

  it("rotates: reads data, writes a new version with cas, patches data and metadata", async () => {
    expectAllowed(await rotator.request("GET", `secret/data/${cred}`), "GET data");
    expectAllowed(
      await rotator.request("POST", `secret/data/${cred}`, {
        options: { cas: 1 },
        data: { client_id: "test-id2", api_key: "test-secret-k2" },
      }),
      "POST data with cas",
    );
    expectAllowed(await rotator.request("GET", `secret/data/${cred}?version=1`), "GET data version 1");
    expectAllowed(
      await rotator.request(
        "PATCH",
        `secret/data/${cred}`,
        { options: { cas: 2 }, data: { rotated_by: "test" } },
        MERGE_PATCH,
      ),
      "PATCH data",
    );
    expectAllowed(
      await rotator.request(
        "PATCH",
        `secret/metadata/${cred}`,
        { custom_metadata: { rotation_state: "idle", rotate: null } },
        MERGE_PATCH,
      ),
      "PATCH metadata",
    );
    const meta = await admin().readMetadata("secret", cred);
    expect(meta.custom_metadata).toEqual({
      provider: "salesforce-eca",
      owner: "payments",
      rotation_state: "idle",
    });
  });

  it("keeps its state: creates, reads, lists and deletes entries under eca-rotator/", async () => {
    const lease = `eca-rotator/${u}/leases/stripe`;
    expectAllowed(
      await rotator.request("POST", `secret/data/${lease}`, { options: { cas: 0 }, data: { owner: "a" } }),
      "create state",
    );
    expectAllowed(
      await rotator.request("POST", `secret/data/${lease}`, { options: { cas: 1 }, data: { owner: "b" } }),
      "update state",
    );
    expectAllowed(await rotator.request("GET", `secret/data/${lease}`), "read state");
    expectAllowed(await rotator.request("GET", `secret/metadata/${lease}`), "read state metadata");
    expectAllowed(await rotator.request("LIST", `secret/metadata/eca-rotator/${u}/leases/`), "list state");
    expectAllowed(await rotator.request("DELETE", `secret/data/${lease}`), "soft-delete state");
    expectAllowed(await rotator.request("DELETE", `secret/metadata/${lease}`), "delete state for good");
    expect((await admin().request("GET", `secret/metadata/${lease}`)).status).toBe(404);
  });

  it("reads the mount's settings (for check) but cannot change them", async () => {
    const config = await rotator.request("GET", "secret/config");
    expectAllowed(config, "read mount config");
    expect(config.body).toMatchObject({ data: { delete_version_after: expect.any(String) } });
    expectDenied(
      await rotator.request("POST", "secret/config", { delete_version_after: "1h" }),
      "write mount config",
    );
  });

  it("reads the Salesforce connection credentials but cannot change or delete them", async () => {
    expectAllowed(await rotator.request("GET", `secret/data/${conn}`), "read connection");
    expectDenied(
      await rotator.request("POST", `secret/data/${conn}`, { data: { client_secret: "x" } }),
      "overwrite connection",
    );
    expectDenied(await rotator.request("DELETE", `secret/data/${conn}`), "soft-delete connection");
    expectDenied(await rotator.request("DELETE", `secret/metadata/${conn}`), "delete connection for good");
    expectDenied(await rotator.request("GET", `secret/metadata/${conn}`), "read connection metadata");
    expectDenied(
      await rotator.request("LIST", "secret/metadata/eca-rotator/connections/"),
      "list connections",
    );
  });

  it.each<[string, string, string, unknown?]>([
    [
      "replace credential metadata with POST",
      "POST",
      "secret/metadata/{cred}",
      { custom_metadata: { provider: "x" } },
    ],
    ["change max_versions through PATCH", "PATCH", "secret/metadata/{cred}", { max_versions: 1 }],
    [
      "change cas_required alongside custom_metadata",
      "PATCH",
      "secret/metadata/{cred}",
      { cas_required: false, custom_metadata: { a: "b" } },
    ],
    ["delete credential metadata", "DELETE", "secret/metadata/{cred}"],
    ["soft-delete a credential version", "DELETE", "secret/data/{cred}"],
    ["delete credential versions", "POST", "secret/delete/{cred}", { versions: [1] }],
    ["destroy credential versions", "POST", "secret/destroy/{cred}", { versions: [1] }],
    ["undelete credential versions", "POST", "secret/undelete/{cred}", { versions: [1] }],
    ["read data outside its prefixes", "GET", "secret/data/other-{u}/x"],
    ["write data outside its prefixes", "POST", "secret/data/other-{u}/x", { data: { a: "b" } }],
    ["list outside its prefixes", "LIST", "secret/metadata/"],
    ["reconfigure the mount", "POST", "secret/config", { max_versions: 1 }],
    ["read policies", "GET", "sys/policies/acl/default"],
  ])("is refused when it tries to %s", async (what, method, template, body) => {
    const apiPath = template.replace("{cred}", cred).replace("{u}", u);
    expectDenied(await rotator.request(method, apiPath, body, method === "PATCH" ? MERGE_PATCH : {}), what);
  });

  it("manages its own token without the default policy", async () => {
    expectAllowed(await rotator.request("GET", "auth/token/lookup-self"), "lookup-self");
    expectAllowed(await rotator.request("POST", "auth/token/renew-self", {}), "renew-self");
  });
});
