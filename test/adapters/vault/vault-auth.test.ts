import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VaultClient } from "../../../src/adapters/vault/vault-client.ts";
import type { RotatorError } from "../../../src/core/errors.ts";
import {
  startTokenReviewServer,
  TEST_KUBERNETES_CA_PEM,
  type TokenReviewServer,
} from "../../support/k8s-token-review-server.ts";
import { admin, uniqueName, useVault } from "../../support/vault-admin.ts";
import { caught, connectWithToken, recordingLog, recordingTransport } from "./vault-test-kit.ts";

const a = admin();
let dir = "";

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "eca-auth-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function tokenTtl(token: string): Promise<number> {
  const body = (await a.must("POST", "auth/token/lookup", { token })) as { data: { ttl: number } };
  return body.data.ttl;
}

describe("token auth", () => {
  it("renews a short-lived token at about two thirds of its TTL, so it outlives its first TTL", async () => {
    const token = await a.createToken({ policies: ["default"], ttl: "6s" });
    const log = recordingLog();
    const client = await connectWithToken(token, { log });
    try {
      await sleep(7_500);
      expect(await tokenTtl(token)).toBeGreaterThan(0);
      expect((await client.lookupSelf()).ttlSeconds).toBeGreaterThan(0);
      const renewals = log.lines.filter((l) => l.msg === "vault token renewed");
      expect(renewals.length).toBeGreaterThanOrEqual(1);
      expect(renewals[0]?.obj).toMatchObject({ ttlSeconds: 6, capped: false });
    } finally {
      await client.close();
    }
  });

  it("re-reads the token file when the token can no longer be extended (max TTL reached)", async () => {
    const marker = uniqueName("second-token");
    await a.writePolicy(marker, 'path "sys/nothing" { capabilities = ["read"] }');
    const first = await a.createToken({ policies: ["default"], ttl: "6s", explicitMaxTtl: "8s" });
    const file = path.join(dir, uniqueName("token"));
    await writeFile(file, `${first}\n`);
    const log = recordingLog();
    const client = await VaultClient.connect({
      address: useVault().addr,
      auth: { method: "token", token: undefined, tokenFile: file },
      log,
    });
    try {
      // An agent sink would rewrite the file with a fresh token; the client must pick it up by itself.
      await writeFile(file, await a.createToken({ policies: ["default", marker], ttl: "1h" }));
      // The first renewal (at 3-4 s) returns less than 6 s because of the 8 s max TTL: capped, so the file is
      // re-read at 2/3 of what is left. No request is made meanwhile, so only the schedule can cause the reload.
      const reloaded = () =>
        log.lines.some((l) => (l.obj as { reason?: string }).reason === "reauthenticate");
      const deadline = Date.now() + 12_000;
      while (!reloaded() && Date.now() < deadline) await sleep(100);
      expect(
        log.lines.some((l) => l.msg === "vault token renewed" && (l.obj as { capped: boolean }).capped),
      ).toBe(true);
      expect(reloaded()).toBe(true);
      // It happened on schedule, not because a request hit the expired token.
      expect(log.lines.some((l) => l.msg.includes("no longer valid"))).toBe(false);
      expect((await client.lookupSelf()).policies).toContain(marker);
    } finally {
      await client.close();
    }
  });

  it("re-reads the token file and retries once when the token was revoked", async () => {
    const file = path.join(dir, uniqueName("token"));
    const first = await a.createToken({ policies: ["default"] });
    await writeFile(file, first);
    const client = await VaultClient.connect({
      address: useVault().addr,
      auth: { method: "token", token: undefined, tokenFile: file },
    });
    try {
      const second = await a.createToken({ policies: ["default"] });
      await writeFile(file, second);
      await a.must("POST", "auth/token/revoke", { token: first });
      expect((await client.lookupSelf()).ttlSeconds).toBeGreaterThan(0);
      expect(await tokenTtl(second)).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
  });

  it("does not retry a denied request when the token came from the environment and cannot be replaced", async () => {
    const token = await a.createToken({ policies: ["default"] });
    const counting = recordingTransport();
    const client = await connectWithToken(token, { transport: counting.transport });
    try {
      counting.calls.length = 0;
      const err = (await caught(
        client.request({ method: "GET", path: "secret/data/not-mine" }),
      )) as RotatorError;
      expect(err.code).toBe("VAULT_PERMISSION_DENIED");
      expect(counting.calls).toEqual(["GET /v1/secret/data/not-mine"]);
    } finally {
      await client.close();
      await counting.close();
    }
  });
});

describe("AppRole auth", () => {
  const policy = uniqueName("approle-policy");
  beforeAll(async () => {
    await a.writePolicy(policy, 'path "secret/data/approle-test/*" { capabilities = ["read"] }');
  });

  it("logs in with a role id and a secret id file, and logs in again after its token was revoked", async () => {
    const role = uniqueName("role");
    const { roleId, secretId } = await a.createAppRole(role, { policies: [policy] });
    const secretIdFile = path.join(dir, uniqueName("secret-id"));
    await writeFile(secretIdFile, `${secretId}\n`);
    const counting = recordingTransport();
    const client = await VaultClient.connect({
      address: useVault().addr,
      auth: {
        method: "approle",
        mount: "approle",
        roleId,
        roleIdFile: undefined,
        secretIdFile,
        secretIdWrapped: false,
      },
      transport: counting.transport,
    });
    try {
      expect((await client.lookupSelf()).policies).toContain(policy);
      await client.request({ method: "POST", path: "auth/token/revoke-self" });
      counting.calls.length = 0;
      expect((await client.lookupSelf()).policies).toContain(policy);
      expect(counting.calls).toEqual([
        "GET /v1/auth/token/lookup-self", // 403: the token is gone
        "GET /v1/auth/token/lookup-self", // the check: still 403, so log in again
        "POST /v1/auth/approle/login",
        "GET /v1/auth/token/lookup-self", // the retry
      ]);
    } finally {
      await client.close();
      await counting.close();
    }
  });

  it("reads the role id from a file and re-reads the secret id file on every login", async () => {
    const role = uniqueName("role");
    const { roleId, secretId } = await a.createAppRole(role, { policies: [policy] });
    const roleIdFile = path.join(dir, uniqueName("role-id"));
    const secretIdFile = path.join(dir, uniqueName("secret-id"));
    await writeFile(roleIdFile, roleId);
    await writeFile(secretIdFile, secretId);
    const client = await VaultClient.connect({
      address: useVault().addr,
      auth: {
        method: "approle",
        mount: "approle",
        roleId: undefined,
        roleIdFile,
        secretIdFile,
        secretIdWrapped: false,
      },
    });
    try {
      // Rotate the secret id: destroy the old one, put a new one in the file.
      await a.must("POST", `auth/approle/role/${role}/secret-id/destroy`, { secret_id: secretId });
      await writeFile(secretIdFile, await a.newSecretId(role));
      await client.reauthenticate();
      expect((await client.lookupSelf()).policies).toContain(policy);
    } finally {
      await client.close();
    }
  });

  it("unwraps a response-wrapped secret id once and re-logs in with the cached secret id", async () => {
    const role = uniqueName("role");
    const { roleId } = await a.createAppRole(role, { policies: [policy] });
    const wrapped = await a.newWrappedSecretId(role);
    const file = path.join(dir, uniqueName("wrapped"));
    await writeFile(file, wrapped);
    const counting = recordingTransport();
    const client = await VaultClient.connect({
      address: useVault().addr,
      auth: {
        method: "approle",
        mount: "approle",
        roleId,
        roleIdFile: undefined,
        secretIdFile: file,
        secretIdWrapped: true,
      },
      transport: counting.transport,
    });
    try {
      expect(counting.calls).toEqual(["POST /v1/sys/wrapping/unwrap", "POST /v1/auth/approle/login"]);
      // The wrapping token is single use: nobody can unwrap it a second time.
      const second = await a.withToken(wrapped).request("POST", "sys/wrapping/unwrap");
      expect(second.status).toBe(400);

      counting.calls.length = 0;
      await client.reauthenticate();
      expect(counting.calls).toEqual(["POST /v1/auth/approle/login"]);
      expect((await client.lookupSelf()).policies).toContain(policy);

      // A second process given the same (used) file cannot start, and says why in one line.
      const err = (await caught(
        VaultClient.connect({
          address: useVault().addr,
          auth: {
            method: "approle",
            mount: "approle",
            roleId,
            roleIdFile: undefined,
            secretIdFile: file,
            secretIdWrapped: true,
          },
        }),
      )) as RotatorError;
      expect(err.code).toBe("VAULT_AUTH_FAILED");
      expect(err.message).toMatch(
        /^cannot unwrap the secret id in .+ \(already unwrapped, expired, or not a wrapping token\): POST sys\/wrapping\/unwrap → HTTP 400: /,
      );
    } finally {
      await client.close();
      await counting.close();
    }
  });

  it("fails with VAULT_AUTH_FAILED on a wrong secret id or a missing secret id file", async () => {
    const role = uniqueName("role");
    const { roleId } = await a.createAppRole(role, { policies: [policy] });
    const file = path.join(dir, uniqueName("bad-secret-id"));
    await writeFile(file, "00000000-0000-0000-0000-000000000000");
    const auth = {
      method: "approle",
      mount: "approle",
      roleId,
      roleIdFile: undefined,
      secretIdWrapped: false,
    } as const;
    const wrong = (await caught(
      VaultClient.connect({ address: useVault().addr, auth: { ...auth, secretIdFile: file } }),
    )) as RotatorError;
    expect(wrong.code).toBe("VAULT_AUTH_FAILED");
    expect(wrong.message).toMatch(/^AppRole login failed: POST auth\/approle\/login → HTTP 400: /);
    const missing = (await caught(
      VaultClient.connect({ address: useVault().addr, auth: { ...auth, secretIdFile: `${file}-nope` } }),
    )) as RotatorError;
    expect(missing.code).toBe("VAULT_AUTH_FAILED");
    expect(missing.message).toBe(`cannot read the AppRole secret id file ${file}-nope (ENOENT)`);
  });
});

describe("Kubernetes auth (real server, TokenReview answered by a loopback stand-in)", () => {
  let k8s: TokenReviewServer;
  const mount = uniqueName("k8s");
  const role = "eca-rotator";
  const policy = uniqueName("k8s-policy");

  beforeAll(async () => {
    k8s = await startTokenReviewServer();
    await a.writePolicy(policy, 'path "secret/data/k8s-test/*" { capabilities = ["read"] }');
    await a.enableAuth("kubernetes", mount);
    await a.must("POST", `auth/${mount}/config`, {
      kubernetes_host: k8s.url,
      kubernetes_ca_cert: TEST_KUBERNETES_CA_PEM,
      token_reviewer_jwt: k8s.reviewerJwt,
      disable_local_ca_jwt: true,
    });
    await a.must("POST", `auth/${mount}/role/${role}`, {
      bound_service_account_names: ["eca-rotator"],
      bound_service_account_namespaces: ["secrets"],
      token_policies: [policy],
      token_ttl: "1h",
    });
  });

  afterAll(async () => {
    await k8s?.close();
  });

  it("logs in with the service-account JWT file and re-reads the file on the next login", async () => {
    const jwtFile = path.join(dir, uniqueName("sa-token"));
    const first = k8s.issueJwt({ namespace: "secrets", name: "eca-rotator" });
    await writeFile(jwtFile, first);
    const client = await VaultClient.connect({
      address: useVault().addr,
      auth: { method: "kubernetes", mount, role, jwtFile },
    });
    try {
      const self = await client.lookupSelf();
      expect(self.policies).toContain(policy);
      expect(self.displayName).toContain("secrets-eca-rotator");
      expect(k8s.reviewed).toEqual([first]);

      // The kubelet rotates projected tokens: the old one stops being valid, the file gets a new one.
      const second = k8s.issueJwt({ namespace: "secrets", name: "eca-rotator" });
      k8s.revoke(first);
      await writeFile(jwtFile, second);
      await client.reauthenticate();
      expect(k8s.reviewed.at(-1)).toBe(second);
      expect((await client.lookupSelf()).policies).toContain(policy);
    } finally {
      await client.close();
    }
  });

  it("fails with VAULT_AUTH_FAILED for a JWT the TokenReview API rejects or a service account the role does not bind", async () => {
    const jwtFile = path.join(dir, uniqueName("sa-token"));
    const revoked = k8s.issueJwt({ namespace: "secrets", name: "eca-rotator" });
    k8s.revoke(revoked);
    await writeFile(jwtFile, revoked);
    const auth = { method: "kubernetes", mount, role, jwtFile } as const;
    const rejected = (await caught(VaultClient.connect({ address: useVault().addr, auth }))) as RotatorError;
    expect(rejected.code).toBe("VAULT_AUTH_FAILED");
    expect(rejected.message).toBe(
      `Kubernetes login as role ${role} failed: POST auth/${mount}/login → HTTP 403: permission denied`,
    );
    await writeFile(jwtFile, k8s.issueJwt({ namespace: "other", name: "eca-rotator" }));
    const unbound = (await caught(VaultClient.connect({ address: useVault().addr, auth }))) as RotatorError;
    expect(unbound.code).toBe("VAULT_AUTH_FAILED");
    expect(unbound.message).toContain("namespace not authorized");
  });
});
