// Shared by `scan` and `report`: load config, connect to Vault, collect and classify the inventory.
import { connectVault, type VaultStack } from "../app/container.ts";
import type { Config } from "../config/config-types.ts";
import { classifyDefaultsOf } from "../config/load-config.ts";
import { systemClock } from "../core/clock.ts";
import { collectInventory, type Inventory } from "../core/inventory/collect-inventory.ts";
import type { CliIo } from "./cli-io.ts";
import { terminalProgress } from "./scan-progress.ts";

/** Scans through `vault` when given (the caller closes it), else through a connection of its own. */
export async function runInventory(cfg: Config, io: CliIo, vault?: VaultStack): Promise<Inventory> {
  const stack = vault ?? (await connectVault(cfg));
  const progress = terminalProgress(io);
  try {
    return await collectInventory(
      stack.source,
      cfg.vault.prefixes,
      systemClock.now(),
      classifyDefaultsOf(cfg),
      progress.onProgress,
    );
  } finally {
    progress.done();
    if (vault === undefined) await stack.close();
  }
}
