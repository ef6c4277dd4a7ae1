import { beforeAll, describe, expect, it } from "vitest";
import { admin, uniqueName, type VaultAdmin } from "../support/vault-admin.ts";
import { clientWithPolicy, expectAllowed, expectDenied, MERGE_PATCH } from "./policy-test-helpers.ts";

describe("policies/consumer.hcl on a real server", () => {
  const u = uniqueName("cons");
  const mine = `api-credentials/payments/${u}/stripe`;
  const theirs = `api-credentials/${u}/billing`;
  let consumer: VaultAdmin;

  beforeAll(async () => {
    const root = admin();
    await root.seedKv(
      "secret",
      mine,
      { client_id: "test-id", api_key: "test-secret-v1" },
      { provider: "salesforce-eca" },
    );
    await root.seedKv("secret", mine, { client_id: "test-id", api_key: "test-secret-v2" });
    await root.seedKv("secret", theirs, { client_id: "test-id", api_key: "test-secret-b" });
    consumer = await clientWithPolicy("consumer.hcl");
  });

  it("reads the current and an older version of its team's credentials", async () => {
    const current = await consumer.request("GET", `secret/data/${mine}`);
    expectAllowed(current, "read current");
    expect(current.body).toMatchObject({ data: { data: { api_key: "test-secret-v2" } } });
    const older = await consumer.request("GET", `secret/data/${mine}?version=1`);
    expect(older.body).toMatchObject({ data: { data: { api_key: "test-secret-v1" } } });
  });

  it.each<[string, string, string, unknown?]>([
    ["read another team's credentials", "GET", `secret/data/${theirs}`],
    ["read metadata, even its own", "GET", `secret/metadata/${mine}`],
    ["list its own folder", "LIST", `secret/metadata/api-credentials/payments/${u}/`],
    ["write its own credentials", "POST", `secret/data/${mine}`, { data: { api_key: "x" } }],
    ["patch its own credentials", "PATCH", `secret/data/${mine}`, { data: { api_key: "x" } }],
    ["delete its own credentials", "DELETE", `secret/data/${mine}`],
    ["destroy versions", "POST", `secret/destroy/${mine}`, { versions: [1] }],
    ["patch metadata", "PATCH", `secret/metadata/${mine}`, { custom_metadata: { rotate: "now" } }],
    ["read the rotator's connection credentials", "GET", "secret/data/eca-rotator/connections/prod"],
  ])("refuses to %s", async (what, method, apiPath, body) => {
    expectDenied(await consumer.request(method, apiPath, body, method === "PATCH" ? MERGE_PATCH : {}), what);
  });
});
