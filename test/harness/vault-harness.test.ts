import { describe, expect, it } from "vitest";
import { admin, uniqueName, useVault } from "../support/vault-admin.ts";

describe("test harness", () => {
  it("provides a real, unsealed Vault-compatible server with KV v2 at secret/", async () => {
    const vault = useVault();
    const health = await fetch(`${vault.addr}/v1/sys/health`);
    expect(health.status).toBe(200);
    const a = admin();
    const prefix = uniqueName("harness");
    await a.seedKv("secret", `${prefix}/one`, { hello: "world" }, { provider: "manual" });
    expect(await a.readData("secret", `${prefix}/one`)).toEqual({ hello: "world" });
    expect((await a.readMetadata("secret", `${prefix}/one`)).custom_metadata).toEqual({ provider: "manual" });
  });

  it("creates policies, tokens and AppRole roles the tests can log in with", async () => {
    const a = admin();
    const policy = uniqueName("harness-policy");
    await a.writePolicy(policy, 'path "secret/data/harness-only/*" { capabilities = ["read"] }');
    const token = await a.createToken({ policies: [policy] });
    const limited = a.withToken(token);
    expect((await limited.request("GET", "secret/data/elsewhere/x")).status).toBe(403);
    const role = uniqueName("harness-role");
    const { roleId, secretId } = await a.createAppRole(role, { policies: [policy] });
    const login = (await a.must("POST", "auth/approle/login", { role_id: roleId, secret_id: secretId })) as {
      auth: { policies: string[] };
    };
    expect(login.auth.policies).toContain(policy);
  });
});
