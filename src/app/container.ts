// Composition root: the only module that turns a Config into live adapters. Commands and (later) the daemon
// ask for what they need here, so no adapter ever builds its own real client.
import { KvV2 } from "../adapters/vault/kv-v2.ts";
import { VaultClient } from "../adapters/vault/vault-client.ts";
import { VaultMetadataSource } from "../adapters/vault/vault-metadata-source.ts";
import type { Config } from "../config/config-types.ts";
import { type Clock, systemClock } from "../core/clock.ts";

export interface VaultStack {
  readonly client: VaultClient;
  readonly kv: KvV2;
  readonly source: VaultMetadataSource;
  close(): Promise<void>;
}

export async function connectVault(cfg: Config, clock: Clock = systemClock): Promise<VaultStack> {
  const client = await VaultClient.connect({
    address: cfg.vault.address,
    namespace: cfg.vault.namespace,
    auth: cfg.vault.auth,
    tls: cfg.vault.tls,
    timeoutMs: cfg.vault.timeoutMs,
    maxRetries: cfg.vault.maxRetries,
    clock,
  });
  const kv = new KvV2(client, cfg.vault.kvMount, { statePrefix: cfg.vault.statePrefix });
  const source = new VaultMetadataSource(kv, {
    listing: cfg.vault.listing,
    concurrency: cfg.vault.scanConcurrency,
  });
  return { client, kv, source, close: () => client.close() };
}
