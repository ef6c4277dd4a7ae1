// `check`: preflight. Config valid, Vault reachable and unsealed, token valid, the mount is KV v2,
// sys/capabilities-self shows the token can do everything the rotator needs on every configured path, each
// Salesforce connection works, every managed credential's provider configuration holds (check-providers.ts),
// and every chat target's secrets resolve (check-notify.ts; --notify-test sends).
// Every failing check is its own line naming what is missing; exit 1 when any required check fails.

import type { SalesforceClient } from "../adapters/salesforce/salesforce-client.ts";
import { parseApiVersion, STAGED_MIN_API_VERSION } from "../adapters/salesforce/salesforce-client.ts";
import type { KvV2 } from "../adapters/vault/kv-v2.ts";
import type { VaultClient } from "../adapters/vault/vault-client.ts";
import { connectSalesforce, connectVault, UNKEYED_AUDIT_WARNING } from "../app/compose.ts";
import type { Config, SalesforceConnectionConfig } from "../config/config-types.ts";
import { summarizeConfig } from "../config/load-config.ts";
import { transportWarnings } from "../config/summarize-config.ts";
import { requiredCapabilities } from "../core/access/required-capabilities.ts";
import { isRotatorError } from "../core/errors.ts";
import {
  exposedSecretFiles,
  exposedSecretFileText,
  loadAuditChainKey,
  secretFiles,
} from "../daemon/secret-refs.ts";
import { checkNotifications, validateNotifyOptions } from "./check-notify.ts";
import { checkProviders } from "./check-providers.ts";
import type { CheckLine, CommandSpec } from "./cli-io.ts";
import { EXIT } from "./cli-io.ts";
import { loadCliConfig } from "./load-cli-config.ts";

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
    lines.push(...(await checkProviders(cfg, stack)));
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
