// `check`: preflight. Config valid, Vault reachable and unsealed, token valid, the mount is KV v2,
// sys/capabilities-self shows the token can do everything the rotator needs on every configured path, each
// Salesforce connection works, every managed credential's provider configuration holds (check-providers.ts),
// and every chat target's secrets resolve (check-notify.ts; --notify-test sends).
// Every failing check is its own line naming what is missing; exit 1 when any required check fails.
import {
  parseApiVersion,
  type SalesforceClient,
  STAGED_MIN_API_VERSION,
} from "../adapters/salesforce/salesforce-client.ts";
import { SFMC_TOKEN_TIMEOUT_MS, verifySfmcSecret } from "../adapters/sfmc/sfmc-token-check.ts";
import type { KvV2 } from "../adapters/vault/kv-v2.ts";
import type { VaultClient } from "../adapters/vault/vault-client.ts";
import type { ChatNotifier } from "../app/chat-notifier.ts";
import {
  connectSalesforce,
  connectVault,
  credentialStore,
  UNKEYED_AUDIT_WARNING,
  type VaultStack,
} from "../app/compose.ts";
import { forEachBounded } from "../app/rotation-cycle.ts";
import type { ChatTargetConfig, Config, SalesforceConnectionConfig } from "../config/config-types.ts";
import { classifyDefaultsOf, destinationsOf, summarizeConfig } from "../config/load-config.ts";
import { transportWarnings } from "../config/summarize-config.ts";
import { requiredCapabilities } from "../core/access/required-capabilities.ts";
import { isRotatorError } from "../core/errors.ts";
import { collectInventory } from "../core/inventory/collect-inventory.ts";
import type { InventoryItem } from "../core/inventory/inventory-item.ts";
import {
  type CheckFinding,
  type CheckMark,
  credentialFacts,
  fail,
  type ProviderCheckContext,
} from "../core/providers/credential-facts.ts";
import { checkCredential, isCheckedItem, needsSecretData } from "../core/providers/provider-checks.ts";
import { PROVIDERS } from "../core/providers/provider-registry.ts";
import { sfmcLiveTarget, sfmcTokenFinding } from "../core/providers/sfmc/sfmc-checks.ts";
import { API_KEY, secretField } from "../core/rotation/engine-deps.ts";
import type { StoredCredential } from "../core/rotation/rotation-ports.ts";
import {
  exposedSecretFiles,
  exposedSecretFileText,
  loadAuditChainKey,
  secretFiles,
} from "../daemon/secret-refs.ts";
import { buildCliChat, eventsText } from "./cli-chat.ts";
import { type CheckLine, type CliIo, type CommandSpec, EXIT, loadCliConfig, UsageError } from "./cli-io.ts";

export const checkCommand: CommandSpec = {
  name: "check",
  help: `Usage: eca-rotator check [--config FILE] [--json] [--verbose] [--notify-test [--notify-target NAME]]

Checks, in order: the configuration is valid (a warn line, topic transport, when TLS verification for Vault is
off or a target is allowed plain http:// to a host that is not loopback); Vault answers and is unsealed; this
host's clock is within 30s of Vault's Date header (warn otherwise: leases and soaks are judged on each
replica's clock); the token is valid; the KV mount is KV v2; the mount has no delete_version_after (FAIL
otherwise: journal and lease versions would expire mid-rotation; warn when <mount>/config is not readable);
(via sys/capabilities-self) the token holds every capability the rotator
needs on every configured path, each missing one named with the reason it is needed; for each Salesforce
connection: its admin app's pair in KV logs in, the ECA credentials API answers, and consumer secrets are
readable over REST; for each
managed credential under vault.prefixes, its provider's configuration (one line per problem, topic cred:PATH,
and one summary line per provider, topic provider:NAME):
  invalid metadata or an unreadable entry: FAIL with the reason
  salesforce-eca   sf_connection names a configured connection this path may use (or only one is
                   configured); client_id and api_key in KV
  sfmc             sfmc_tenant names a configured tenant this path may use (or only one is configured);
                   client_id and api_key in KV; expires_at set (warn) and not passed; a staged secret
                   waiting in pending_api_key (ok); the current api_key gets a token at the tenant's
                   configured v2/token, and nowhere else (refused: FAIL with the OAuth error; unreachable:
                   FAIL naming the host)
  generated        current_secret set (warn); no rotation_phase=dual-accept left open while idle (warn)
  manual           rotation_contact set (warn); a deadline
Secret values are never printed, only whether a field is set. Every file holding a secret (Vault login files,
TLS client key, JWT keys, fingerprint key, {file: PATH} references) that its group or others may read is a warn
line naming the config key, the path and the mode (files of Kubernetes Secret and projected volumes are
skipped). With audit.file set: warn when audit.chain_key is not set (the chain is unkeyed), else that the key
resolves (file readable, variable set, KV field present, at least 32 bytes, not in the audit file's folder). For
each chat target (notifications.targets):
its secret references resolve (file readable, variable set, KV field present). Targets are not contacted
unless --notify-test is given.
  --verbose        also print the effective configuration (where each value came from; secrets as "set")
  --notify-test    send a test message to every chat target and report each: ok, or the error code and
                   HTTP status (never the webhook URL)
  --notify-target  with --notify-test: only the target named NAME
  --json           the same checks as JSON: {ok, checks: [{mark, topic, text}]}
Exit 0 when every required check passes (a test message that failed counts as failed), 1 otherwise, 2 when the
configuration itself is invalid (including a chat target's secret reference or audit.chain_key that does not
resolve).`,
  options: {
    json: { type: "boolean" },
    verbose: { type: "boolean", short: "v" },
    "notify-test": { type: "boolean" },
    "notify-target": { type: "string" },
  },
  async run(ctx) {
    const cfg = loadCliConfig(ctx);
    const target = ctx.values["notify-target"];
    const notify = {
      send: ctx.values["notify-test"] === true,
      only: typeof target === "string" ? target : undefined,
    };
    validateNotifyOptions(cfg, notify);
    const detail = ctx.values["verbose"] === true ? `\n${summarizeConfig(cfg)}` : "";
    const lines: CheckLine[] = [
      { mark: "ok", topic: "config", text: `valid (${cfg.sources.join(", ") || "defaults only"})${detail}` },
      ...transportWarnings(cfg).map((w): CheckLine => ({ mark: "warn", topic: "transport", text: w.text })),
    ];
    lines.push(...(await checkSecretFiles(cfg)));
    lines.push(...(await checkVault(cfg)));
    const audit = await checkAuditChain(cfg, ctx.io.env);
    lines.push(...audit.lines);
    const chat = await checkNotifications(cfg, ctx.io, notify);
    lines.push(...chat.lines);
    const failed = lines.some((l) => l.mark === "FAIL");
    if (ctx.values["json"] === true) {
      ctx.io.stdout.write(`${JSON.stringify({ ok: !failed, checks: lines }, null, 2)}\n`);
    } else {
      for (const line of lines) ctx.io.stdout.write(formatLine(line));
    }
    if (chat.configError || audit.configError) return EXIT.usage;
    return failed ? EXIT.failed : EXIT.ok;
  },
};

function formatLine(line: CheckLine): string {
  const [first, ...more] = line.text.split("\n");
  // A long topic (cred:PATH) still leaves a space before the text.
  const head = `${`[${line.mark}]`.padEnd(7)}${`${line.topic} `.padEnd(11)}${first ?? ""}\n`;
  return head + more.map((m) => `${" ".repeat(18)}${m}\n`).join("");
}

/** One warn line per secret file its group or others may read; one ok line when every one is private. */
async function checkSecretFiles(cfg: Config): Promise<CheckLine[]> {
  const exposed = await exposedSecretFiles(cfg);
  if (exposed.length > 0) {
    return exposed.map((f) => ({ mark: "warn", topic: "files", text: exposedSecretFileText(f) }));
  }
  const count = secretFiles(cfg).length;
  if (count === 0) return [];
  return [
    {
      mark: "ok",
      topic: "files",
      text: `no secret file is readable by its group or others (${count} named by the config)`,
    },
  ];
}

function failure(topic: string, err: unknown): CheckLine {
  return {
    mark: "FAIL",
    topic,
    text: isRotatorError(err) ? err.toLine() : String((err as Error).message ?? err),
  };
}

export async function checkVault(cfg: Config): Promise<CheckLine[]> {
  const lines: CheckLine[] = [];
  let stack: Awaited<ReturnType<typeof connectVault>>;
  try {
    stack = await connectVault(cfg);
  } catch (err) {
    return [failure("vault", err)];
  }
  try {
    const health = await stack.client.health();
    if (health.sealed)
      return [{ mark: "FAIL", topic: "vault", text: `${cfg.vault.address} is sealed: unseal it first` }];
    lines.push({
      mark: "ok",
      topic: "vault",
      text: `reachable at ${cfg.vault.address} (version ${health.version})`,
    });
    lines.push(await checkClock(stack.client, cfg));
    lines.push(await checkToken(stack.client));
    lines.push(await checkMount(stack.client, cfg));
    lines.push(await checkStateMount(stack.client, cfg));
    lines.push(...(await checkCapabilities(stack.client, cfg)));
    for (const conn of cfg.salesforce.connections) lines.push(...(await checkSalesforce(conn, stack.kv)));
    lines.push(...(await checkProviders(cfg, stack, { readerFeedConfigured: cfg.readers !== undefined })));
  } catch (err) {
    lines.push(failure("vault", err));
  } finally {
    await stack.close();
  }
  return lines;
}

async function checkToken(client: VaultClient): Promise<CheckLine> {
  try {
    const self = await client.lookupSelf();
    const ttl = self.ttlSeconds === 0 ? "no expiry" : `ttl ${Math.round(self.ttlSeconds / 60)} min`;
    const renew = self.renewable ? "renewable" : "not renewable";
    const warn = self.policies.includes("root")
      ? " (a root token: use a least-privilege token outside tests)"
      : "";
    return {
      mark: warn ? "warn" : "ok",
      topic: "token",
      text: `valid, ${ttl}, ${renew}, policies: ${self.policies.join(", ")}${warn}`,
    };
  } catch (err) {
    return failure("token", err);
  }
}

async function checkMount(client: VaultClient, cfg: Config): Promise<CheckLine> {
  try {
    const info = await client.mountInfo(cfg.vault.kvMount);
    if (info.type !== "kv" || info.version !== "2") {
      const what = info.type === "kv" ? `KV version ${info.version ?? "1"}` : `a "${info.type}" engine`;
      return {
        mark: "FAIL",
        topic: "mount",
        text: `${cfg.vault.kvMount}/ is ${what}; eca-rotator needs KV version 2`,
      };
    }
    return { mark: "ok", topic: "mount", text: `${cfg.vault.kvMount}/ is KV version 2` };
  } catch (err) {
    return failure("mount", err);
  }
}

/**
 * The rotator's journals and leases live as KV v2 entries under state_prefix on the same mount. With
 * delete_version_after set, Vault soft-deletes each version once it is that old: a long soak, a retire_after wait
 * or a parked journal (which may hold the only copy of a promoted pair) then reads back as missing or corrupt.
 */
async function checkStateMount(client: VaultClient, cfg: Config): Promise<CheckLine> {
  const { kvMount: mount, statePrefix } = cfg.vault;
  try {
    const { deleteVersionAfter: after } = await client.kvConfig(mount);
    if (/^0+[a-z]*$/.test(after) || after === "") {
      return {
        mark: "ok",
        topic: "state",
        text: `${mount}/ never deletes versions by age (delete_version_after not set): journals and leases under ${statePrefix}/ last until the rotator deletes them`,
      };
    }
    return {
      mark: "FAIL",
      topic: "state",
      text:
        `${mount}/ has delete_version_after=${after}: journal and lease versions under ${statePrefix}/ would be ` +
        "soft-deleted that long after they are written and then read back as missing or corrupt in the middle of a " +
        "rotation (a parked journal may hold the only copy of a promoted pair). Set it to 0s on this mount " +
        `(vault write ${mount}/config delete_version_after=0s), or keep the credentials and state on a mount without it`,
    };
  } catch (err) {
    const why = isRotatorError(err) ? err.code : "UNCLASSIFIED";
    return {
      mark: "warn",
      topic: "state",
      text: `cannot read ${mount}/config (${why}) to check that delete_version_after is not set (journal and lease versions must never expire): grant read on ${mount}/config (policies/rotator.hcl does) or check it by hand`,
    };
  }
}

/** Above this, a warning: leases, soaks and retire_after are judged on each replica's own clock. */
const CLOCK_SKEW_WARN_MS = 30_000;

/** This host's clock against Vault's (its Date header): the rotator's timing rests on every replica's clock. */
export async function checkClock(client: VaultClient, cfg: Config): Promise<CheckLine> {
  try {
    const clock = await client.clockOffset();
    if (clock === undefined) {
      return {
        mark: "warn",
        topic: "clock",
        text: "Vault sent no Date header: this host's clock was not checked",
      };
    }
    const off = Math.abs(clock.offsetMs);
    const seconds = (ms: number) => `${Math.round(ms / 1000)}s`;
    if (off - clock.uncertaintyMs <= CLOCK_SKEW_WARN_MS) {
      return {
        mark: "ok",
        topic: "clock",
        text: `this host's clock is within ${seconds(Math.max(off + clock.uncertaintyMs, 1000))} of Vault's (Date header)`,
      };
    }
    return {
      mark: "warn",
      topic: "clock",
      text:
        `this host's clock is about ${seconds(off)} ${clock.offsetMs > 0 ? "behind" : "ahead of"} Vault's (Date header). ` +
        "Lease expiry, the end of a soak and retire_after are judged on each replica's own clock: replicas whose " +
        `clocks differ by more than about two thirds of rotation.lease_ttl (${seconds((cfg.rotation.leaseTtlMs * 2) / 3)}) ` +
        "could both act on one credential, and a soak ends early or late. Keep every replica's clock synchronised (NTP)",
    };
  } catch (err) {
    return failure("clock", err);
  }
}

async function checkCapabilities(client: VaultClient, cfg: Config): Promise<CheckLine[]> {
  const needs = requiredCapabilities(cfg);
  const granted = await client.capabilitiesSelf([...new Set(needs.map((n) => n.path))]);
  const lines: CheckLine[] = [];
  for (const need of needs) {
    const have = granted[need.path] ?? [];
    const missing = have.includes("root") ? [] : need.capabilities.filter((c) => !have.includes(c));
    if (missing.length === 0) {
      lines.push({
        mark: "ok",
        topic: "access",
        text: `${need.capabilities.join(", ")} on ${need.path} (${need.why})`,
      });
    } else {
      lines.push({
        mark: need.optional ? "warn" : "FAIL",
        topic: "access",
        text: `missing ${missing.map((c) => `"${c}"`).join(", ")} on ${need.path}: needed to ${need.why}${need.optional ? " (optional)" : ""}`,
      });
    }
  }
  return lines;
}

/**
 * Salesforce preflight for one connection, read-only: log in with the admin app's pair from KV, list the
 * External Client Apps (the ECA credentials API answers and the user has the permissions), and read one
 * consumer's secret (the org setting for REST access to consumer secrets is on). Nothing is created.
 */
export async function checkSalesforce(conn: SalesforceConnectionConfig, kv: KvV2): Promise<CheckLine[]> {
  const topic = `sf:${conn.name}`;
  let client: SalesforceClient | undefined;
  try {
    client = (await connectSalesforce(conn, kv)).client;
    const { instanceUrl } = await client.login();
    const lines: CheckLine[] = [
      { mark: "ok", topic, text: `the admin app logs in (${instanceUrl}, API ${conn.apiVersion})` },
    ];
    // The credentials API answers from v60.0, the staged resources only from v65.0: a lower version passes
    // every read above and fails the first rotation, so say it here.
    const version = parseApiVersion(conn.apiVersion);
    if (version.major < STAGED_MIN_API_VERSION) {
      lines.push({
        mark: "FAIL",
        topic,
        text: `api_version ${version.segment} has no staged credentials: rotation needs v${STAGED_MIN_API_VERSION}.0 or later`,
      });
    }
    const apps = await client.listApps();
    lines.push({
      mark: "ok",
      topic,
      text: `the ECA credentials API answers (${apps.length} External Client App${apps.length === 1 ? "" : "s"} visible)`,
    });
    for (const app of apps) {
      const consumers = await client.listConsumers(app.appId);
      const first = consumers[0];
      if (!first) continue;
      await client.readConsumer(app.appId, first.id, "secret");
      lines.push({
        mark: "ok",
        topic,
        text: `consumer secrets are readable over REST (checked on ${app.developerName})`,
      });
      return lines;
    }
    lines.push({
      mark: "warn",
      topic,
      text: "no app with a consumer to check that consumer secrets are readable",
    });
    return lines;
  } catch (err) {
    return [failure(topic, err)];
  } finally {
    await client?.close();
  }
}

/**
 * The audit file's chain: unkeyed is a warning (anyone who can write the file can rewrite it); a chain key is
 * resolved as serve resolves it, and one that does not resolve is a configuration error (exit 2).
 */
async function checkAuditChain(
  cfg: Config,
  env: Readonly<Record<string, string | undefined>>,
): Promise<{ lines: CheckLine[]; configError: boolean }> {
  const ref = cfg.audit.chainKey;
  if (cfg.audit.file === undefined) return { lines: [], configError: false };
  if (ref === undefined)
    return { lines: [{ mark: "warn", topic: "audit", text: UNKEYED_AUDIT_WARNING }], configError: false };
  let vault: Awaited<ReturnType<typeof connectVault>> | undefined;
  try {
    if (ref.kind === "vault") vault = await connectVault(cfg);
    const kv = vault?.kv ?? { readData: async () => undefined };
    await loadAuditChainKey(cfg.audit, { env, kv });
    const from =
      ref.kind === "file"
        ? `file ${ref.path}`
        : ref.kind === "env"
          ? `variable ${ref.name}`
          : `KV ${ref.path}#${ref.field}`;
    return {
      lines: [
        {
          mark: "ok",
          topic: "audit",
          text: `the audit chain is keyed (HMAC-SHA256): audit.chain_key resolves (${from})`,
        },
      ],
      configError: false,
    };
  } catch (err) {
    return { lines: [failure("audit", err)], configError: isRotatorError(err, "CONFIG_INVALID") };
  } finally {
    await vault?.close();
  }
}

// `check`'s notification targets. Without --notify-test every target is built as `serve` builds it (its secret
// references resolve: file readable, variable set, KV field present; its URL is an http(s) URL) and nothing is
// sent: a preflight must not post to a channel unasked. With --notify-test each target (or the one named) also
// gets a test message in its own format. Lines name the target and the error code and status, never the URL.
export interface NotifyCheckOptions {
  /** Send a test message (--notify-test). */
  readonly send: boolean;
  /** Only this target (--notify-target NAME). */
  readonly only?: string | undefined;
}

export interface NotifyCheck {
  readonly lines: CheckLine[];
  /** A target's secret reference does not resolve or its URL is unusable: a configuration error (exit 2). */
  readonly configError: boolean;
}

const TOPIC = "chat";

/** Usage mistakes in the notify flags, found before any check runs. */
export function validateNotifyOptions(cfg: Config, opts: NotifyCheckOptions): void {
  if (opts.only === undefined) return;
  if (!opts.send) throw new UsageError("--notify-target needs --notify-test");
  const names = cfg.notifications.targets.map((t) => t.name);
  if (!names.includes(opts.only)) {
    const known = names.length === 0 ? "none is configured" : `configured: ${names.join(", ")}`;
    throw new UsageError(`--notify-target: no chat target is named "${opts.only}" (${known})`);
  }
}

export async function checkNotifications(
  cfg: Config,
  io: CliIo,
  opts: NotifyCheckOptions,
): Promise<NotifyCheck> {
  const targets = cfg.notifications.targets.filter((t) => opts.only === undefined || t.name === opts.only);
  if (targets.length === 0) {
    const text = "no chat targets configured (notifications.targets): messages go to the log";
    return {
      lines: [
        opts.send
          ? { mark: "warn", topic: TOPIC, text: `${text}; nothing to test` }
          : { mark: "ok", topic: TOPIC, text },
      ],
      configError: false,
    };
  }
  let vault: VaultStack;
  try {
    vault = await connectVault(cfg);
  } catch (err) {
    const why = isRotatorError(err) ? err.code : "UNCLASSIFIED";
    return {
      lines: targets.map((t) => ({
        mark: "FAIL",
        topic: topicOf(t),
        text: `not checked: no Vault connection to resolve its secrets (${why})`,
      })),
      configError: false,
    };
  }
  const built = await Promise.all(targets.map((t) => buildOne(cfg, vault, io, t)));
  try {
    const lines = await Promise.all(
      built.map((b) => (b.chat === undefined ? b.line : lineFor(b.target, b.chat, opts.send))),
    );
    return { lines, configError: built.some((b) => b.configError) };
  } finally {
    await Promise.all(built.map((b) => b.chat?.close()));
    await vault.close();
  }
}

type Built =
  | { readonly target: ChatTargetConfig; readonly chat: ChatNotifier; readonly configError: false }
  | {
      readonly target: ChatTargetConfig;
      readonly chat?: undefined;
      readonly line: CheckLine;
      readonly configError: boolean;
    };

/** One notifier per target, so one broken target's secret does not hide the state of the others. */
async function buildOne(cfg: Config, vault: VaultStack, io: CliIo, target: ChatTargetConfig): Promise<Built> {
  try {
    return { target, chat: await buildCliChat(cfg, vault, io, [target]), configError: false };
  } catch (err) {
    const text = isRotatorError(err) ? err.toLine() : "UNCLASSIFIED: the target could not be set up";
    return {
      target,
      line: { mark: "FAIL", topic: topicOf(target), text },
      configError: isRotatorError(err, "CONFIG_INVALID"),
    };
  }
}

async function lineFor(target: ChatTargetConfig, chat: ChatNotifier, send: boolean): Promise<CheckLine> {
  const topic = topicOf(target);
  if (!send) {
    return {
      mark: "ok",
      topic,
      text: `${target.type}, ${eventsText(target)}: configured (not contacted; use --notify-test)`,
    };
  }
  const [result] = await chat.sendTest(target.name);
  if (result?.ok === true) return { mark: "ok", topic, text: `${target.type}: test message sent` };
  return { mark: "FAIL", topic, text: `${target.type}: ${result?.error ?? "UNCLASSIFIED"}` };
}

function topicOf(t: ChatTargetConfig): string {
  return `${TOPIC}:${t.name}`;
}

// `check`, per managed credential under vault.prefixes: the scan (metadata), then the secret data of the
// providers whose checks need it (field presence only), then the provider's pure checks
// (src/core/providers/provider-checks.ts), and for provider=sfmc one live v2/token request with the current
// api_key. One line per problem, topic `cred:<path>`; one summary line per provider, topic `provider:<name>`.
// Read-only; secret values go nowhere but the token request, and that only to the auth host the config names
// for the credential's tenant (an entry that names an unknown tenant is invalid and never read).
/** Token requests in flight at once (each to a tenant's auth host). */
const LIVE_PARALLELISM = 4;
/** KV reads in flight at once (two requests each: metadata, then the current version). */
const READ_PARALLELISM = 8;

export interface ProviderCheckOptions {
  readonly now?: Date;
  readonly sfmcTimeoutMs?: number;
  /** A reader feed is configured (config `readers:`); without one, soak_until=readers gets a warning. */
  readonly readerFeedConfigured?: boolean;
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
  return [...readersFeedWarning(items, opts.readerFeedConfigured === true), ...toLines(checked)];
}

/**
 * soak_until=readers promotes on evidence from the reader feed; with no feed there is none, so every such soak
 * runs to soak_max and on_soak_max decides (a hold then waits for an operator).
 */
function readersFeedWarning(items: readonly InventoryItem[], feed: boolean): CheckLine[] {
  if (feed) return [];
  const n = items.filter(
    (i) => i.soakUntil === "readers" && PROVIDERS.get(i.provider)?.readersSoak === true,
  ).length;
  if (n === 0) return [];
  return [
    {
      mark: "warn",
      topic: "readers",
      text:
        `${n} credential${n === 1 ? " uses" : "s use"} soak_until=readers, but no reader feed is configured (readers:): ` +
        "their soaks never end early and run to soak_max, where on_soak_max decides",
    },
  ];
}

/** Grouped by provider (in PROVIDERS order, then entries with no readable provider), each with its summary. */
function toLines(checked: readonly Checked[]): CheckLine[] {
  const lines: CheckLine[] = [];
  const groups = [...PROVIDERS.providerNames, undefined];
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
