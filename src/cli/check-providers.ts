// `check`, per managed credential under vault.prefixes: the scan (metadata), then the secret data of the
// providers whose checks need it (field presence only), then the provider's pure checks
// (src/core/providers/provider-checks.ts), and for provider=sfmc one live v2/token request with the current
// api_key. One line per problem, topic `cred:<path>`; one summary line per provider, topic `provider:<name>`.
// Read-only; secret values go nowhere but the token request, and that only to the auth host the config names
// for the credential's tenant (an entry that names an unknown tenant is invalid and never read).
import { SFMC_TOKEN_TIMEOUT_MS, verifySfmcSecret } from "../adapters/sfmc/sfmc-token-check.ts";
import { forEachBounded } from "../app/bounded-parallel.ts";
import { credentialStore, type VaultStack } from "../app/compose.ts";
import type { Config } from "../config/config-types.ts";
import { classifyDefaultsOf, destinationsOf } from "../config/load-config.ts";
import { isRotatorError } from "../core/errors.ts";
import { collectInventory } from "../core/inventory/collect-inventory.ts";
import type { InventoryItem } from "../core/inventory/inventory-item.ts";
import { PROVIDERS } from "../core/inventory/policy-fields.ts";
import {
  type CheckFinding,
  type CheckMark,
  credentialFacts,
  fail,
  type ProviderCheckContext,
} from "../core/providers/credential-facts.ts";
import { checkCredential, isCheckedItem, needsSecretData } from "../core/providers/provider-checks.ts";
import { sfmcLiveTarget, sfmcTokenFinding } from "../core/providers/sfmc/sfmc-checks.ts";
import { API_KEY, secretField } from "../core/rotation/credential-fields.ts";
import type { StoredCredential } from "../core/rotation/rotation-ports.ts";
import type { CheckLine } from "./cli-io.ts";

/** Token requests in flight at once (each to a tenant's auth host). */
const LIVE_PARALLELISM = 4;
/** KV reads in flight at once (two requests each: metadata, then the current version). */
const READ_PARALLELISM = 8;

export interface ProviderCheckOptions {
  readonly now?: Date;
  readonly sfmcTimeoutMs?: number;
}

interface Checked {
  readonly item: InventoryItem;
  findings: CheckFinding[];
}

export async function checkProviders(
  cfg: Config,
  stack: VaultStack,
  opts: ProviderCheckOptions = {},
): Promise<CheckLine[]> {
  const now = opts.now ?? new Date();
  let items: readonly InventoryItem[];
  try {
    const inventory = await collectInventory(stack.source, cfg.vault.prefixes, now, classifyDefaultsOf(cfg));
    items = inventory.items.filter(isCheckedItem);
  } catch (err) {
    return [{ mark: "FAIL", topic: "providers", text: errorText(err) }];
  }
  if (items.length === 0) {
    return [
      {
        mark: "ok",
        topic: "providers",
        text: `no managed credentials under ${cfg.vault.prefixes.join(", ")}`,
      },
    ];
  }
  const ctx: ProviderCheckContext = {
    destinations: destinationsOf(cfg),
    kvMount: cfg.vault.kvMount,
    now,
  };
  const store = credentialStore(cfg, stack);
  const checked: Checked[] = items.map((item) => ({ item, findings: [] }));
  const live: Array<{ entry: Checked; cred: StoredCredential }> = [];
  await forEachBounded(checked, READ_PARALLELISM, async (entry) => {
    if (!needsSecretData(entry.item)) {
      entry.findings = checkCredential(credentialFacts(entry.item), ctx);
      return;
    }
    let cred: StoredCredential | undefined;
    try {
      cred = await store.read(entry.item.path);
    } catch (err) {
      entry.findings = [fail(`secret data unreadable: ${errorText(err)}`)];
      return;
    }
    if (cred === undefined) {
      entry.findings = [fail("the entry or its current version is gone since the scan")];
      return;
    }
    entry.findings = checkCredential(credentialFacts(entry.item, cred), ctx);
    if (entry.item.provider === "sfmc") live.push({ entry, cred });
  });
  const timeoutMs = opts.sfmcTimeoutMs ?? SFMC_TOKEN_TIMEOUT_MS;
  await forEachBounded(live, LIVE_PARALLELISM, async ({ entry, cred }) => {
    const target = sfmcLiveTarget(credentialFacts(entry.item, cred), ctx);
    const secret = secretField(cred, API_KEY);
    if (target === undefined || secret === undefined) return;
    try {
      const answer = await verifySfmcSecret(target.url, target.clientId, secret, timeoutMs);
      entry.findings.push(sfmcTokenFinding(answer, target));
    } catch (err) {
      entry.findings.push(fail(errorText(err)));
    }
  });
  return toLines(checked);
}

/** Grouped by provider (in PROVIDERS order, then entries with no readable provider), each with its summary. */
function toLines(checked: readonly Checked[]): CheckLine[] {
  const lines: CheckLine[] = [];
  const groups = [...PROVIDERS, undefined];
  for (const provider of groups) {
    const group = checked.filter((c) => c.item.provider === provider);
    if (group.length === 0) continue;
    for (const { item, findings } of group) {
      for (const f of findings) lines.push({ mark: f.mark, topic: `cred:${item.path}`, text: f.text });
    }
    if (provider !== undefined) lines.push(summary(provider, group));
  }
  return lines;
}

function summary(provider: string, group: readonly Checked[]): CheckLine {
  const failing = group.filter((c) => c.findings.some((f) => f.mark === "FAIL")).length;
  const warned = group.filter(
    (c) => c.findings.some((f) => f.mark === "warn") && !c.findings.some((f) => f.mark === "FAIL"),
  ).length;
  const count = `${group.length} credential${group.length === 1 ? "" : "s"}`;
  const mark: CheckMark = failing > 0 ? "FAIL" : warned > 0 ? "warn" : "ok";
  const parts = [
    ...(failing > 0 ? [`${failing} failing`] : []),
    ...(warned > 0 ? [`${warned} with warnings`] : []),
  ];
  const text = parts.length === 0 ? `${count} checked, no problems` : `${count} checked: ${parts.join(", ")}`;
  return { mark, topic: `provider:${provider}`, text };
}

function errorText(err: unknown): string {
  return isRotatorError(err) ? err.toLine() : String((err as Error).message ?? err);
}
