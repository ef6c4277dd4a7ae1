import { KvV2 } from "../../../src/adapters/vault/kv-v2.ts";
import {
  VaultClient,
  type VaultClientOptions,
  type VaultLog,
} from "../../../src/adapters/vault/vault-client.ts";
import { SecretValue } from "../../../src/core/secret-value.ts";
import { useVault } from "../../support/vault-admin.ts";

export { type RecordingTransport, recordingTransport } from "../../support/recording-transport.ts";

export function tokenAuth(token: string): VaultClientOptions["auth"] {
  return { method: "token", token: SecretValue.of(token), tokenFile: undefined };
}

export async function connectWithToken(
  token: string,
  extra: Partial<VaultClientOptions> = {},
): Promise<VaultClient> {
  return VaultClient.connect({
    address: useVault().addr,
    auth: tokenAuth(token),
    timeoutMs: 5_000,
    ...extra,
  });
}

export async function rootClient(extra: Partial<VaultClientOptions> = {}): Promise<VaultClient> {
  return connectWithToken(useVault().token, extra);
}

export async function rootKv(mount = "secret", statePrefix?: string): Promise<KvV2> {
  const client = await rootClient();
  return new KvV2(client, mount, statePrefix === undefined ? {} : { statePrefix });
}

/** Awaits `p`, expecting it to reject; returns the rejection. */
export async function caught(p: Promise<unknown> | (() => Promise<unknown>)): Promise<unknown> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection, but the call succeeded");
}

export interface RecordingLog extends VaultLog {
  readonly lines: { level: "debug" | "warn"; msg: string; obj: object }[];
}

export function recordingLog(): RecordingLog {
  const lines: RecordingLog["lines"] = [];
  return {
    lines,
    debug: (obj, msg) => lines.push({ level: "debug", msg, obj }),
    warn: (obj, msg) => lines.push({ level: "warn", msg, obj }),
  };
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
