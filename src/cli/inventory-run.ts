// Shared by `scan` and `report`: load config, connect to Vault, collect and classify the inventory.
import { connectVault, sharedReaderFeed, stateStore, type VaultStack } from "../app/compose.ts";
import type { Config } from "../config/config-types.ts";
import { classifyDefaultsOf } from "../config/load-config.ts";
import { classifyError, isRotatorError } from "../core/errors.ts";
import {
  collectInventory,
  type Inventory,
  markRotationsWithoutJournal,
  type ScanProgress,
  withReaders,
} from "../core/inventory/collect-inventory.ts";
import type { InventoryItem } from "../core/inventory/inventory-item.ts";
import { systemClock } from "../core/time.ts";
import type { CliIo } from "./cli-io.ts";

/** Scans through `vault` when given (the caller closes it), else through a connection of its own. */
export async function runInventory(cfg: Config, io: CliIo, vault?: VaultStack): Promise<Inventory> {
  const stack = vault ?? (await connectVault(cfg));
  const progress = terminalProgress(io);
  try {
    const inventory = await collectInventory(
      stack.source,
      cfg.vault.prefixes,
      systemClock.now(),
      classifyDefaultsOf(cfg),
      progress.onProgress,
    );
    const marked = await markWithoutJournal(inventory.items, stack);
    // Who read each credential, from the entries serve's reader feed shares (one read of them per scan).
    const feed = sharedReaderFeed(cfg, stack);
    try {
      const items = await withReaders(marked, feed, inventory.scannedAt, cfg.readers?.windowMs ?? 0, (err) =>
        io.stderr.write(
          `warning: the shared reader entries could not be read (${classifyError(err)}); readers are not shown\n`,
        ),
      );
      return { ...inventory, items };
    } finally {
      await feed?.stop();
    }
  } finally {
    progress.done();
    if (vault === undefined) await stack.close();
  }
}

/**
 * Rotations the metadata claims with no journal under this config's state_prefix (markRotationsWithoutJournal).
 * Listing the journals needs list on the state prefix, which a read-only report token lacks: then the items stay
 * as the metadata has them.
 */
async function markWithoutJournal(
  items: readonly InventoryItem[],
  stack: VaultStack,
): Promise<InventoryItem[]> {
  const state = stateStore(stack);
  try {
    return await markRotationsWithoutJournal(items, new Set(), () => state.listJournals());
  } catch (err) {
    if (isRotatorError(err) && err.code !== "INTERNAL_INVARIANT") return [...items];
    throw err;
  }
}

/**
 * A single self-overwriting progress line on stderr, only when stderr is a terminal (never in pipes, CI logs
 * or tests), redrawn at most every 100 ms so a fast scan is not slowed by terminal writes.
 */
export function terminalProgress(
  io: CliIo,
  now: () => number = Date.now,
): { onProgress?: ScanProgress; done(): void } {
  if (!io.stderr.isTTY) return { done: () => {} };
  let last = 0;
  let drawn = false;
  return {
    onProgress: (seen, prefix) => {
      const t = now();
      if (t - last < 100) return;
      last = t;
      drawn = true;
      io.stderr.write(`\rscanning ${prefix}/ … ${seen} entries`);
    },
    done: () => {
      if (drawn) io.stderr.write("\r\x1b[K");
    },
  };
}
