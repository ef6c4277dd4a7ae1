// Where the demo keeps its credentials: a throw-away OpenBao dev server it starts itself (the default), or the
// Vault in VAULT_ADDR/VAULT_TOKEN (BAO_* win) when both are set. In an existing Vault everything goes under one
// fresh folder of the `secret/` KV v2 mount, `eca-rotator-demo-<random>/`, which the demo deletes at the end.
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { KvV2 } from "../adapters/vault/kv-v2.ts";
import { VaultClient } from "../adapters/vault/vault-client.ts";
import { SecretValue } from "../core/secret-value.ts";
import { type DevServer, findServerBinary, startDevServer } from "./dev-vault-server.ts";

export const DEMO_MOUNT = "secret";

export interface DemoVault {
  readonly addr: string;
  readonly token: string;
  /** "dev server" or "your Vault". */
  readonly kind: "dev" | "existing";
  /** Folder of the credentials, and the rotator's state_prefix and admin connection entry. */
  readonly prefix: string;
  readonly statePrefix: string;
  readonly connectionPath: string;
  readonly client: VaultClient;
  readonly kv: KvV2;
  /** The dev server's file audit device's log (the reader feed follows it); undefined for your Vault. */
  readonly auditLog: string | undefined;
  /** Deletes what the demo wrote (existing Vault) or stops the dev server. Idempotent. */
  close(): Promise<void>;
}

/** `dir`: where the dev server's audit log and the config declaring it go (a folder the demo removes). */
export async function openDemoVault(env: NodeJS.ProcessEnv, dir: string): Promise<DemoVault> {
  const addr = env["BAO_ADDR"] || env["VAULT_ADDR"];
  const token = env["BAO_TOKEN"] || env["VAULT_TOKEN"];
  let server: DevServer | undefined;
  let root = "";
  let auditLog: string | undefined;
  if (addr && token) {
    root = `eca-rotator-demo-${randomBytes(4).toString("hex")}/`;
  } else {
    const binary = findServerBinary(env);
    if (!binary)
      throw new Error("no bao or vault binary found: ./run.sh installs one, or put bao/vault on PATH");
    // A file audit device, declared in the server's config (OpenBao takes audit devices only from there): every
    // read of a credential is logged, and serve's reader feed follows the log to learn who reads what.
    auditLog = path.join(dir, "vault-audit.log");
    const hcl = path.join(dir, "vault-audit.hcl");
    writeFileSync(
      hcl,
      `audit "file" "demo" {\n  options = {\n    file_path = "${auditLog}"\n    mode = "0600"\n  }\n}\n`,
    );
    server = await startDevServer(binary, "eca-demo-root", { extraArgs: [`-config=${hcl}`] });
  }
  const target = server ?? { addr: addr ?? "", token: token ?? "" };
  const client = await VaultClient.connect({
    address: target.addr,
    auth: { method: "token", token: SecretValue.of(target.token), tokenFile: undefined },
  });
  const statePrefix = `${root}eca-rotator`;
  const kv = new KvV2(client, DEMO_MOUNT, { statePrefix });
  let closed = false;
  return {
    addr: target.addr,
    token: target.token,
    kind: server === undefined ? "existing" : "dev",
    prefix: `${root}api-credentials`,
    statePrefix,
    connectionPath: `${statePrefix}/connections/sim`,
    client,
    kv,
    auditLog,
    async close() {
      if (closed) return;
      closed = true;
      try {
        if (server === undefined) await deleteTree(client, root.replace(/\/$/, ""));
      } finally {
        await client.close();
        await server?.stop();
      }
    },
  };
}

/** Removes every key (all versions and metadata) under `folder` of the demo mount. */
async function deleteTree(client: VaultClient, folder: string): Promise<void> {
  const list = await client.request({
    method: "LIST",
    path: `${DEMO_MOUNT}/metadata/${folder}`,
    accept: [404],
  });
  if (list.status === 404) return;
  const keys = ((list.body as { data?: { keys?: string[] } }).data?.keys ?? []).filter(
    (k) => typeof k === "string",
  );
  for (const key of keys) {
    const child = `${folder}/${key.replace(/\/$/, "")}`;
    if (key.endsWith("/")) await deleteTree(client, child);
    else await client.request({ method: "DELETE", path: `${DEMO_MOUNT}/metadata/${child}` });
  }
}
