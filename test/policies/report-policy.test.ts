import { beforeAll, describe, expect, it } from "vitest";
import { admin, uniqueName, type VaultAdmin } from "../support/vault-admin.ts";
import { clientWithPolicy, expectAllowed, expectDenied, MERGE_PATCH } from "./policy-test-helpers.ts";

describe("policies/report.hcl on a real server", () => {
  const u = uniqueName("rep");
  const cred = `api-credentials/${u}/stripe`;
  let report: VaultAdmin;

  beforeAll(async () => {
    await admin().seedKv(
      "secret",
      cred,
      { client_id: "test-id", api_key: "test-secret-k" },
      { provider: "salesforce-eca", consumers: "checkout" },
    );
    await admin().seedKv("secret", `eca-rotator/${u}/journal`, { step: "claimed" });
    report = await clientWithPolicy("report.hcl");
  });

  it("lists the prefix and reads each entry's metadata", async () => {
    const list = await report.request("LIST", `secret/metadata/api-credentials/${u}/`);
    expectAllowed(list, "LIST metadata");
    expect(list.body).toMatchObject({ data: { keys: ["stripe"] } });
    const meta = await report.request("GET", `secret/metadata/${cred}`);
    expect(meta.body).toMatchObject({
      data: { custom_metadata: { provider: "salesforce-eca", consumers: "checkout" } },
    });
  });

  it("lists metadata in bulk where the server offers it (the policy never refuses it)", async () => {
    // OpenBao answers 200; Vault CE has no detailed-metadata endpoint, but the ACL must still let the request pass.
    expect((await report.request("LIST", `secret/detailed-metadata/api-credentials/${u}/`)).status).not.toBe(
      403,
    );
  });

  it("lists and reads the shared reader entries, and cannot write them", async () => {
    await admin().seedKv("secret", `eca-rotator/readers/${u}`, { p: {} });
    expectAllowed(await report.request("LIST", "secret/metadata/eca-rotator/readers/"), "LIST readers");
    expectAllowed(await report.request("GET", `secret/data/eca-rotator/readers/${u}`), "GET a reader shard");
    expectDenied(
      await report.request("POST", `secret/data/eca-rotator/readers/${u}`, { data: { p: {} } }),
      "write a reader shard",
    );
  });

  it.each<[string, string, string, unknown?]>([
    ["read secret data", "GET", `secret/data/${cred}`],
    ["read subkeys", "GET", `secret/subkeys/${cred}`],
    ["write secret data", "POST", `secret/data/${cred}`, { data: { a: "b" } }],
    ["patch metadata", "PATCH", `secret/metadata/${cred}`, { custom_metadata: { rotate: "now" } }],
    ["replace metadata", "POST", `secret/metadata/${cred}`, { custom_metadata: {} }],
    ["delete metadata", "DELETE", `secret/metadata/${cred}`],
    ["destroy versions", "POST", `secret/destroy/${cred}`, { versions: [1] }],
    ["read the rotator's state", "GET", `secret/data/eca-rotator/${u}/journal`],
    ["list the rotator's state", "LIST", `secret/metadata/eca-rotator/${u}/`],
    ["read metadata outside the prefix", "GET", `secret/metadata/eca-rotator/${u}/journal`],
  ])("refuses to %s", async (what, method, apiPath, body) => {
    expectDenied(await report.request(method, apiPath, body, method === "PATCH" ? MERGE_PATCH : {}), what);
  });
});
