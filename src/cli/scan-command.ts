// `scan`: the inventory of every entry under the configured prefixes, with deadline and state.
import { formatInventoryJson, formatInventoryTable } from "../report/format-inventory.ts";
import type { CommandSpec } from "./cli-io.ts";
import { EXIT, loadCliConfig } from "./cli-io.ts";
import { runInventory } from "./inventory-run.ts";

export const scanCommand: CommandSpec = {
  name: "scan",
  help: `Usage: eca-rotator scan [--json] [--config FILE]

Lists every KV v2 entry under the configured prefixes (vault.prefixes, default api-credentials) with its
provider, state, deadline and, for invalid entries, the reason. Reads metadata only, never secret data.
States: ok, due_soon, overdue, flagged, in_progress, awaiting_promotion, failed, unverified, invalid, unmanaged.
  --json   machine-readable output (schema eca-rotator/inventory@1)
Exit 0 when the scan ran (whatever the states), 1 when Vault could not be scanned, 2 on a config error.`,
  options: { json: { type: "boolean" } },
  async run(ctx) {
    const cfg = loadCliConfig(ctx);
    const inventory = await runInventory(cfg, ctx.io);
    const out =
      ctx.values["json"] === true
        ? formatInventoryJson(inventory.items, inventory.scannedAt)
        : formatInventoryTable(inventory.items, inventory.scannedAt);
    ctx.io.stdout.write(out.endsWith("\n") ? out : `${out}\n`);
    return EXIT.ok;
  },
};
