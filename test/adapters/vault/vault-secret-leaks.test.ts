// Canary values planted as tokens, secret ids, wrapping tokens, JWTs and secret data must never show up in an
// error's message, String(err), toLine(), context, util.inspect (which includes the cause chain) or the log.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvV2 } from "../../../src/adapters/vault/kv-v2.ts";
import { VaultClient } from "../../../src/adapters/vault/vault-client.ts";
import { RotatorError } from "../../../src/core/errors.ts";
import { TEST_KUBERNETES_CA_PEM } from "../../support/k8s-token-review-server.ts";
import { admin, uniqueName, useVault } from "../../support/vault-admin.ts";
import { freePort } from "../../support/vault-backend.ts";
import { caught, connectWithToken, recordingLog, rootClient, tokenAuth } from "./vault-test-kit.ts";

const CANARY = "test-secret-canary-7f3a9c";

function assertNoCanary(err: unknown): void {
  expect(err).toBeInstanceOf(RotatorError);
  const e = err as RotatorError;
  for (const text of [
    e.message,
    String(e),
    e.toLine(),
    JSON.stringify(e.context),
    inspect(e, { depth: 6 }),
  ]) {
    expect(text).not.toContain(CANARY);
  }
  expect(e.message).not.toContain("\n");
}

describe("no secret reaches an error or a log line", () => {
  const a = admin();
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "eca-canary-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps tokens, secret ids, wrapping tokens and JWTs out of auth errors", async () => {
    const log = recordingLog();
    const addr = useVault().addr;
    const errors: unknown[] = [];
    errors.push(await caught(connectWithToken(`s.${CANARY}-token`, { log })));
    const tokenFile = path.join(dir, "token");
    await writeFile(tokenFile, `${CANARY}-file-token`);
    errors.push(
      await caught(
        VaultClient.connect({ address: addr, auth: { method: "token", token: undefined, tokenFile }, log }),
      ),
    );

    const role = uniqueName("canary-role");
    const { roleId } = await a.createAppRole(role, { policies: ["default"] });
    const secretIdFile = path.join(dir, "secret-id");
    await writeFile(secretIdFile, `${CANARY}-secret-id`);
    const approle = {
      method: "approle",
      mount: "approle",
      roleId,
      roleIdFile: undefined,
      secretIdFile,
    } as const;
    errors.push(
      await caught(VaultClient.connect({ address: addr, auth: { ...approle, secretIdWrapped: false }, log })),
    );
    errors.push(
      await caught(VaultClient.connect({ address: addr, auth: { ...approle, secretIdWrapped: true }, log })),
    );
    errors.push(
      await caught(
        VaultClient.connect({
          address: addr,
          auth: { ...approle, roleId: `${CANARY}-role-id`, secretIdWrapped: false },
          log,
        }),
      ),
    );

    const k8sMount = uniqueName("canary-k8s");
    await a.enableAuth("kubernetes", k8sMount);
    await a.must("POST", `auth/${k8sMount}/config`, {
      kubernetes_host: `http://127.0.0.1:${await freePort()}`,
      kubernetes_ca_cert: TEST_KUBERNETES_CA_PEM,
      disable_local_ca_jwt: true,
    });
    await a.must("POST", `auth/${k8sMount}/role/r`, {
      bound_service_account_names: ["x"],
      bound_service_account_namespaces: ["y"],
    });
    const jwtFile = path.join(dir, "jwt");
    const fakeJwt = `${Buffer.from('{"alg":"RS256"}').toString("base64url")}.${Buffer.from(`{"sub":"${CANARY}"}`).toString("base64url")}.${CANARY}`;
    for (const jwt of [`${CANARY}-not-a-jwt`, fakeJwt]) {
      await writeFile(jwtFile, jwt);
      errors.push(
        await caught(
          VaultClient.connect({
            address: addr,
            auth: { method: "kubernetes", mount: k8sMount, role: "r", jwtFile },
            log,
          }),
        ),
      );
    }

    const closed = await freePort();
    errors.push(
      await caught(
        VaultClient.connect({
          address: `http://127.0.0.1:${closed}`,
          auth: tokenAuth(`${CANARY}-t`),
          maxRetries: 0,
          log,
        }),
      ),
    );

    expect(errors).toHaveLength(8);
    for (const err of errors) assertNoCanary(err);
    expect(JSON.stringify(log.lines)).not.toContain(CANARY);
  });

  it("keeps secret data out of KV errors", async () => {
    const log = recordingLog();
    const client = await rootClient({ log });
    const kv = new KvV2(client, "secret", { statePrefix: "state" });
    const p = `${uniqueName("canary-kv")}/cred`;
    const data = { api_key: `${CANARY}-api-key`, client_secret: `${CANARY}-client-secret` };
    try {
      await kv.writeData(p, data, { cas: 0 });
      const errors: unknown[] = [
        await caught(kv.writeData(p, data, { cas: 0 })),
        await caught(kv.patchData(p, data, { cas: 7 })),
        await caught(kv.patchData(`${p}-missing`, data, { cas: 1 })),
        await caught(kv.patchMetadata(`${p}-missing`, { note: `${CANARY}-meta` })),
        // Invalid values (too long, not printable) are rejected by the server: its error text names the key only.
        await caught(kv.patchMetadata(p, { note: `${CANARY}-${"x".repeat(600)}` })),
        await caught(kv.patchMetadata(p, { note: `${CANARY}\u0007bell` })),
        await caught(kv.deleteStateEntry(p)),
      ];
      const readOnly = uniqueName("canary-read-only");
      await a.writePolicy(readOnly, `path "secret/metadata/${p}" { capabilities = ["read"] }`);
      const limited = await connectWithToken(await a.createToken({ policies: [readOnly] }), { log });
      try {
        const denied = await caught(new KvV2(limited, "secret").writeData(p, data, { cas: 1 }));
        expect((denied as RotatorError).code).toBe("VAULT_PERMISSION_DENIED");
        errors.push(denied);
        errors.push(
          await caught(
            limited.request({
              method: "POST",
              path: "sys/wrapping/unwrap",
              token: "session",
              body: { token: CANARY },
            }),
          ),
        );
      } finally {
        await limited.close();
      }
      for (const err of errors) assertNoCanary(err);
      expect(JSON.stringify(log.lines)).not.toContain(CANARY);
    } finally {
      await client.close();
    }
  });
});
