import { spawnSync } from "node:child_process";
import { beforeAll, describe, expect, it } from "vitest";
import { admin, uniqueName, useVault, type VaultAdmin } from "../support/vault-admin.ts";
import { findServerBinary } from "../support/vault-backend.ts";
import { clientWithPolicy, expectAllowed, expectDenied, MERGE_PATCH } from "./policy-test-helpers.ts";

const POLICY = { provider: "salesforce-eca", rotation_period: "90d" };

// Requests every operator policy must refuse: anything but a metadata PATCH of custom_metadata under the prefix.
const ALWAYS_DENIED: Array<[string, string, string, unknown?]> = [
  ["read secret data", "GET", "secret/data/{cred}"],
  ["write secret data", "POST", "secret/data/{cred}", { data: { api_key: "x" } }],
  ["patch secret data", "PATCH", "secret/data/{cred}", { data: { api_key: "x" } }],
  ["read metadata", "GET", "secret/metadata/{cred}"],
  ["list metadata", "LIST", "secret/metadata/api-credentials/{u}/"],
  ["replace metadata with POST", "POST", "secret/metadata/{cred}", { custom_metadata: { rotate: "now" } }],
  ["replace metadata with PUT", "PUT", "secret/metadata/{cred}", { custom_metadata: { rotate: "now" } }],
  ["change max_versions", "PATCH", "secret/metadata/{cred}", { max_versions: 1 }],
  [
    "change cas_required alongside a trigger",
    "PATCH",
    "secret/metadata/{cred}",
    { custom_metadata: { rotate: "now" }, cas_required: true },
  ],
  ["change delete_version_after", "PATCH", "secret/metadata/{cred}", { delete_version_after: "1h" }],
  ["delete the metadata and every version", "DELETE", "secret/metadata/{cred}"],
  ["soft-delete the latest version", "DELETE", "secret/data/{cred}"],
  ["delete versions", "POST", "secret/delete/{cred}", { versions: [1] }],
  ["destroy versions", "POST", "secret/destroy/{cred}", { versions: [1] }],
  ["undelete versions", "POST", "secret/undelete/{cred}", { versions: [1] }],
  [
    "patch metadata outside the prefix",
    "PATCH",
    "secret/metadata/other-{u}/x",
    { custom_metadata: { rotate: "now" } },
  ],
  [
    "patch the rotator's state",
    "PATCH",
    "secret/metadata/eca-rotator/{u}/x",
    { custom_metadata: { rotate: "now" } },
  ],
];

async function seedCredential(): Promise<{ u: string; cred: string }> {
  const u = uniqueName("op");
  const cred = `api-credentials/${u}/stripe`;
  await admin().seedKv("secret", cred, { client_id: "test-id", api_key: "test-secret-k" }, POLICY);
  // A second entry outside the prefix so "outside" requests hit something that exists.
  await admin().seedKv("secret", `other-${u}/x`, { a: "b" }, POLICY);
  return { u, cred };
}

function request(
  client: VaultAdmin,
  method: string,
  template: string,
  u: string,
  cred: string,
  body?: unknown,
) {
  const apiPath = template.replace("{cred}", cred).replace("{u}", u);
  return client.request(method, apiPath, body, method === "PATCH" ? MERGE_PATCH : {});
}

describe("policies/operator.hcl on a real server", () => {
  let operator: VaultAdmin;
  let u: string;
  let cred: string;

  beforeAll(async () => {
    ({ u, cred } = await seedCredential());
    operator = await clientWithPolicy("operator.hcl");
  });

  it("sets the rotate trigger and a reason with a merge PATCH that keeps the other keys", async () => {
    const res = await operator.request(
      "PATCH",
      `secret/metadata/${cred}`,
      { custom_metadata: { rotate: "now", rotate_reason: "INC-42" } },
      MERGE_PATCH,
    );
    expectAllowed(res, "PATCH custom_metadata");
    expect((await admin().readMetadata("secret", cred)).custom_metadata).toEqual({
      ...POLICY,
      rotate: "now",
      rotate_reason: "INC-42",
    });
  });

  it("works with the CLI's `kv metadata patch`, which needs nothing but the PATCH", async () => {
    const binary = useVault().binary ?? findServerBinary();
    if (binary === undefined) throw new Error("this test runs the bao/vault CLI: put bao or vault on PATH");
    const out = spawnSync(
      binary,
      ["kv", "metadata", "patch", "-mount=secret", "-custom-metadata=rotate=emergency", cred],
      {
        env: {
          PATH: process.env["PATH"],
          HOME: process.env["HOME"],
          VAULT_ADDR: operator.target.addr,
          VAULT_TOKEN: operator.token,
          BAO_ADDR: operator.target.addr,
          BAO_TOKEN: operator.token,
        },
        encoding: "utf8",
      },
    );
    expect(out.status, out.stderr).toBe(0);
    expect((await admin().readMetadata("secret", cred)).custom_metadata?.["rotate"]).toBe("emergency");
  });

  it.each(ALWAYS_DENIED)("refuses to %s", async (what, method, template, body) => {
    expectDenied(await request(operator, method, template, u, cred, body), what);
  });

  it("cannot stop an operator from changing other custom_metadata keys (documented in the policy)", async () => {
    // Vault ACLs see custom_metadata as one parameter: this is the limit operator.hcl's comments describe.
    const res = await operator.request(
      "PATCH",
      `secret/metadata/${cred}`,
      { custom_metadata: { rotation_period: "3650d" } },
      MERGE_PATCH,
    );
    expectAllowed(res, "PATCH a policy key");
  });
});

describe("policies/operator-strict.hcl on a real server", () => {
  let operator: VaultAdmin;
  let u: string;
  let cred: string;

  beforeAll(async () => {
    ({ u, cred } = await seedCredential());
    operator = await clientWithPolicy("operator-strict.hcl");
  });

  it.each([["now"], ["emergency"]])("allows exactly {rotate: %s}", async (mode) => {
    expectAllowed(
      await operator.request(
        "PATCH",
        `secret/metadata/${cred}`,
        { custom_metadata: { rotate: mode } },
        MERGE_PATCH,
      ),
      mode,
    );
    expect((await admin().readMetadata("secret", cred)).custom_metadata).toEqual({ ...POLICY, rotate: mode });
  });

  it.each<[string, Record<string, unknown>]>([
    ["another trigger value", { rotate: "later" }],
    ["a reason next to the trigger", { rotate: "now", rotate_reason: "INC-42" }],
    ["a policy key", { rotation_period: "3650d" }],
    ["the rotator's status keys", { rotation_verified_at: "2026-01-01T00:00:00Z" }],
    ["removing a key", { provider: null }],
  ])("refuses %s", async (what, customMetadata) => {
    expectDenied(
      await operator.request(
        "PATCH",
        `secret/metadata/${cred}`,
        { custom_metadata: customMetadata },
        MERGE_PATCH,
      ),
      what,
    );
  });

  it.each(ALWAYS_DENIED)("refuses to %s", async (what, method, template, body) => {
    expectDenied(await request(operator, method, template, u, cred, body), what);
  });
});
