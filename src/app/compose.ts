// The composition root: the only module that turns a Config into live adapters, for the CLI and the daemon alike.
// Commands and the daemon ask for what they need here, so no adapter ever builds its own real client. In order:
// - the rotation engine from a Config and a connected Vault: the KV credential and state stores, one Salesforce
//   client per configured connection behind the issuer, the audit sink (audit.file, else JSON lines on stderr), a
//   notifier (one human line on stderr; chat comes with the daemon), the fingerprint key, and this process's lease
//   owner name (rotate, rollback, resolve, adopt, run --once, the daemon);
// - the Vault connection (client, KV, the auth method) and each Salesforce connection;
// - what leaves the daemon besides logs and metrics: the audit fan-out and the chat notifier.
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { HttpAuditSink } from "../adapters/audit/http-audit-sink.ts";
import { JsonlFileAuditSink } from "../adapters/audit/jsonl-file-audit-sink.ts";
import { SyslogAuditSink } from "../adapters/audit/syslog-audit-sink.ts";
import type { ChatTarget } from "../adapters/chat/chat-target.ts";
import { SignedWebhookTarget } from "../adapters/chat/signed-webhook.ts";
import { SlackWebhookTarget } from "../adapters/chat/slack-webhook.ts";
import { TeamsWorkflowTarget } from "../adapters/chat/teams-webhook.ts";
import { SalesforceClient } from "../adapters/salesforce/salesforce-client.ts";
import {
  SalesforceEcaIssuer,
  type SalesforceIssuerConnection,
} from "../adapters/salesforce/salesforce-eca-issuer.ts";
import { SFMC_TOKEN_TIMEOUT_MS, verifySfmcSecret } from "../adapters/sfmc/sfmc-token-check.ts";
import {
  AuditFileFollower,
  AuditSocketListener,
  type AuditSource,
} from "../adapters/vault/audit-feed-sources.ts";
import { KvV2, VaultCredentialStore, VaultMetadataSource } from "../adapters/vault/kv-v2.ts";
import { VaultClient } from "../adapters/vault/vault-client.ts";
import { VaultReaderShards } from "../adapters/vault/vault-reader-shards.ts";
import { VaultStateStore } from "../adapters/vault/vault-state-store.ts";
import { CHAT_EVENTS } from "../config/config-schema.ts";
import type { Config, SalesforceConnectionConfig } from "../config/config-types.ts";
import { destinationsOf } from "../config/load-config.ts";
import { classifyError, isRotatorError, RotatorError } from "../core/errors.ts";
import type { ChatCredential, ChatEventKind } from "../core/notify/chat-event.ts";
import { PROVIDERS } from "../core/providers/provider-registry.ts";
import { DEFAULT_READERS_WINDOW_MS, type ReaderEvidence } from "../core/readers/readers.ts";
import type { RotationEngineDeps } from "../core/rotation/engine-deps.ts";
import { type ResolveOptions, type ResolveOutcome, resolveParked } from "../core/rotation/resolve.ts";
import { createRotationEngine, type RotationEngine } from "../core/rotation/rotation-engine.ts";
import type {
  AuditSink,
  CredentialIssuer,
  CredentialStore,
  Notification,
  Notifier,
  RotationStateStore,
} from "../core/rotation/rotation-ports.ts";
import type { AuditEvent } from "../core/rotation/rotation-state.ts";
import { SecretValue } from "../core/secret-value.ts";
import { type Clock, systemClock } from "../core/time.ts";
import type { Logger } from "../daemon/logger.ts";
import type { DaemonMetrics } from "../daemon/metrics.ts";
import {
  insecureUrlWarning,
  loadAuditChainKey,
  resolveSecretRef,
  resolveUrlRef,
  type UrlRule,
} from "../daemon/secret-refs.ts";
import { AuditFanout, type NamedAuditSink } from "./audit-fanout.ts";
import { ChatNotifier, type ChatSubscription, type DedupStore } from "./chat-notifier.ts";
import { ReaderFeed } from "./reader-feed.ts";
import { VaultDedupStore } from "./vault-dedup-store.ts";

export interface RotationStack {
  readonly engine: RotationEngine;
  /** `eca-rotator resolve PATH`: ends a parked rotation with KV naming Salesforce's main pair (resolve.ts). */
  resolve(path: string, opts: ResolveOptions): Promise<ResolveOutcome>;
  readonly issuer: CredentialIssuer;
  readonly store: CredentialStore;
  readonly state: RotationStateStore;
  /** The audit sink the engine writes to (for events outside the engine, e.g. recorded manual rotations). */
  readonly audit: AuditSink;
  /** This process's lease owner name (host:pid:random). */
  readonly owner: string;
  /** The latest Sforce-Limit-Info usage per configured connection (undefined before its first answer). */
  apiUsage(connection: string): { used: number; max: number } | undefined;
  /** Closes the Salesforce clients and waits for queued audit lines; the Vault stack is the caller's. */
  close(): Promise<void>;
}

export interface RotationStackOptions {
  /** Where human lines and stderr audit lines go (the CLI passes its stderr). */
  readonly stderr: LineWriter;
  /** The process environment (the audit chain key may come from it); the CLI passes its own. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** --dry-run: create nothing anywhere (not even the fingerprint key). */
  readonly readOnly?: boolean;
  readonly clock?: Clock;
  /** Told about audit or notification failures (they never change an outcome). */
  readonly onSinkFailure?: RotationEngineDeps["onSinkFailure"];
  /** The daemon's sinks (fan-out audit, chat); default: audit.file or stderr, and one stderr line per notice. */
  readonly audit?: AuditSink | undefined;
  readonly notifier?: Notifier | undefined;
  /** The daemon is stopping: rotations pause at the next step boundary. */
  readonly shouldPause?: (() => boolean) | undefined;
  /** New rotation ids; default randomUUID. */
  readonly ids?: (() => string) | undefined;
  /** Who reads each credential (serve's reader feed), for soak_until=readers; none: no evidence. */
  readonly readers?: ReaderEvidence | undefined;
}

export async function buildRotationStack(
  cfg: Config,
  vault: VaultStack,
  opts: RotationStackOptions,
): Promise<RotationStack> {
  const clock = opts.clock ?? systemClock;
  const key = await loadFingerprintKey({
    keyFile: cfg.audit.fingerprintKeyFile,
    kv: vault.kv,
    statePrefix: cfg.vault.statePrefix,
    readOnly: opts.readOnly === true,
  });
  // Only for the stack's own file sink; the daemon and the CLI pass their fan-out, which loads it likewise.
  const chainKey =
    opts.audit === undefined && cfg.audit.file !== undefined
      ? await loadAuditChainKey(cfg.audit, { env: opts.env ?? {}, kv: vault.kv })
      : undefined;

  const clients: SalesforceClient[] = [];
  const byName = new Map<string, SalesforceClient>();
  const connections = new Map<string, SalesforceIssuerConnection>();
  try {
    for (const conn of cfg.salesforce.connections) {
      const { client, clientId } = await connectSalesforce(conn, vault.kv, clock);
      clients.push(client);
      byName.set(conn.name, client);
      connections.set(conn.name, { client, adminClientId: clientId });
    }
  } catch (err) {
    await Promise.all(clients.map((c) => c.close()));
    throw err;
  }

  const fileSink =
    opts.audit !== undefined || cfg.audit.file === undefined
      ? undefined
      : new JsonlFileAuditSink(cfg.audit.file, { chainKey });
  const ports: {
    issuer: CredentialIssuer;
    store: CredentialStore;
    state: RotationStateStore;
    audit: AuditSink;
    notifier: Notifier;
  } = {
    issuer: new SalesforceEcaIssuer(connections),
    store: credentialStore(cfg, vault),
    state: stateStore(vault),
    audit: opts.audit ?? fileSink ?? new StderrAuditSink(opts.stderr),
    notifier: opts.notifier ?? new StderrNotifier(opts.stderr),
  };

  const owner = `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
  const r = cfg.rotation;
  const deps: RotationEngineDeps = {
    providers: PROVIDERS,
    ...ports,
    clock,
    ids: opts.ids ?? randomUUID,
    owner,
    fingerprint: makeFingerprint(key),
    // provider=generated draws its secrets here (never logged; the journal holds them until published).
    randomBytes: (size) => randomBytes(size),
    // provider=sfmc asks the tenant's v2/token whether a secret works.
    sfmcTokenCheck: (url, clientId, secret) => verifySfmcSecret(url, clientId, secret, SFMC_TOKEN_TIMEOUT_MS),
    settings: {
      leaseTtlMs: r.leaseTtlMs,
      soakMs: r.soakMs,
      soakUntil: r.soakUntil,
      soakMaxMs: r.soakMaxMs,
      onSoakMax: r.onSoakMax,
      readersWindowMs: cfg.readers?.windowMs ?? DEFAULT_READERS_WINDOW_MS,
      verifyTimeoutMs: r.verifyTimeoutMs,
      maxAttempts: r.maxAttempts,
      retryBudgetMs: r.retryBudgetMs,
      // The first backoff after a failed attempt is one scan: the daemon looks again then anyway.
      retryBaseMs: r.scanIntervalMs,
      retireAfterMs: r.retireAfterMs,
      destinations: destinationsOf(cfg),
    },
    onSinkFailure:
      opts.onSinkFailure ??
      ((sink, err) =>
        opts.stderr(`warning: the ${sink} sink failed (${classifyError(err)}); the rotation goes on`)),
    shouldPause: opts.shouldPause,
    readers: opts.readers,
  };
  const engine = createRotationEngine(deps);

  return {
    engine,
    resolve: (path, o) => resolveParked(deps, path, o),
    issuer: ports.issuer,
    store: ports.store,
    state: ports.state,
    audit: ports.audit,
    owner,
    apiUsage: (connection) => byName.get(connection)?.apiUsage,
    async close() {
      await fileSink?.flush();
      await Promise.all(clients.map((c) => c.close()));
    },
  };
}

/** The credentials in KV, confined to the configured prefixes. */
export function credentialStore(cfg: Config, vault: Pick<VaultStack, "kv">): VaultCredentialStore {
  return new VaultCredentialStore(vault.kv, { prefixes: cfg.vault.prefixes });
}

/** Journals, leases and consumer owners under the state prefix. */
export function stateStore(vault: Pick<VaultStack, "kv">): VaultStateStore {
  return new VaultStateStore(vault.kv);
}

/**
 * The reader feed of the `readers` section with its sources started (the socket listening, the file followed);
 * undefined without the section. serve calls it before connecting to Vault (Vault does not start while its
 * socket audit device cannot connect), then attachReaderFeed once connected.
 */
export async function startReaderFeed(cfg: Config, clock: Clock): Promise<ReaderFeed | undefined> {
  const r = cfg.readers;
  if (r === undefined) return undefined;
  const feed = newReaderFeed(cfg, r, clock);
  const sources: AuditSource[] = [];
  if (r.socket !== undefined) sources.push(new AuditSocketListener(r.socket, feed));
  if (r.file !== undefined) sources.push(new AuditFileFollower(r.file, feed));
  try {
    await feed.start(sources);
  } catch (err) {
    await feed.stop();
    const where =
      r.socket === undefined
        ? ""
        : r.socket.kind === "unix"
          ? r.socket.path
          : `${r.socket.host}:${r.socket.port}`;
    throw new RotatorError(
      "CONFIG_INVALID",
      `readers.socket: cannot listen on ${where}: ${(err as NodeJS.ErrnoException).code ?? "error"}`,
      { cause: err },
    );
  }
  return feed;
}

function newReaderFeed(cfg: Config, r: NonNullable<Config["readers"]>, clock: Clock): ReaderFeed {
  return new ReaderFeed({
    kvMount: cfg.vault.kvMount,
    prefixes: cfg.vault.prefixes,
    namespace: cfg.vault.namespace,
    ignore: r.ignore,
    clock,
    windowMs: r.windowMs,
    shareIntervalMs: r.shareIntervalMs,
  });
}

/**
 * The reader evidence serve's replicas share, for the CLI (scan, report, run --once, rotate): a feed with no
 * audit source, attached to the shard entries under the state prefix, so it answers from what the replicas
 * shared and never writes. Undefined without a `readers:` section. Stop it when done (it has a share timer).
 */
export function sharedReaderFeed(
  cfg: Config,
  vault: Pick<VaultStack, "kv">,
  clock: Clock = systemClock,
): ReaderFeed | undefined {
  if (cfg.readers === undefined) return undefined;
  const feed = newReaderFeed(cfg, cfg.readers, clock);
  // No audit lines ever reach it, so the rotator's own identity does not matter here.
  feed.attach({ ownEntityId: undefined, ownDisplayName: undefined, shards: new VaultReaderShards(vault.kv) });
  return feed;
}

/**
 * Connects a started feed to Vault: the rotator's own reads are recognised by its token (auth/token/lookup-self,
 * once, here: its identity entity when it has one, else its display name), and the shared entries live under
 * the state prefix.
 */
export async function attachReaderFeed(
  feed: ReaderFeed,
  vault: Pick<VaultStack, "client" | "kv">,
  deps: {
    readonly log: Logger;
    readonly metrics?: DaemonMetrics | undefined;
    /** Each kept read's credential path (the daemon looks at a soak waiting for that path's readers). */
    readonly onRead?: ((path: string) => void) | undefined;
  },
): Promise<void> {
  const self = await vault.client.lookupSelf();
  feed.attach({
    ownEntityId: self.entityId === "" ? undefined : self.entityId,
    ownDisplayName: self.displayName === "" ? undefined : self.displayName,
    shards: new VaultReaderShards(vault.kv),
    onResult: (res) => {
      deps.metrics?.recordReaderEvent(
        res.kind,
        res.kind === "kept" ? undefined : res.reason,
        feed.readersKnown,
      );
      if (res.kind === "kept") deps.onRead?.(res.read.path);
    },
    onFlushFailure: (err) =>
      deps.log.warn(
        { code: classifyError(err) },
        "the reader feed could not share what it saw; retrying at the next interval",
      ),
  });
}

/** How long serve waits for Vault at start-up when its reader feed listens (see connectVaultPatiently). */
const READER_FEED_VAULT_WAIT_MS = 5 * 60_000;

/**
 * connectVault, retried every 2 s while Vault is unreachable or sealed, for up to 5 minutes. serve uses it when
 * the reader feed listens for a socket audit device: Vault does not start until it can connect to the feed, so
 * a rotator that gave up at once would be restarted, close its listener, and could keep Vault from starting.
 */
export async function connectVaultPatiently(
  cfg: Config,
  clock: Clock,
  onWait: (code: string) => void,
  waitMs = READER_FEED_VAULT_WAIT_MS,
): Promise<VaultStack> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return await connectVault(cfg, clock);
    } catch (err) {
      const waiting =
        (isRotatorError(err, "VAULT_UNAVAILABLE") || isRotatorError(err, "VAULT_SEALED")) &&
        Date.now() < deadline;
      if (!waiting) throw err;
      onWait(err.code);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
  }
}

// The Vault connection.
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

// Builds the Salesforce client of one configured connection. The admin app's own client id and secret live in
// KV at the connection's credentials_path (never in the config file), read with the rotator's Vault token.
export interface SalesforceConnection {
  readonly client: SalesforceClient;
  /** The admin app's consumer key: the rotator must never rotate it (POLICY_SELF_ROTATION). */
  readonly clientId: string;
}

export async function connectSalesforce(
  conn: SalesforceConnectionConfig,
  kv: KvV2,
  clock?: Clock,
): Promise<SalesforceConnection> {
  const stored = await kv.readData(conn.credentialsPath);
  const data = stored?.data ?? undefined;
  if (!stored || stored.deleted || !data) {
    throw new RotatorError(
      "CONFIG_INVALID",
      `salesforce.connections.${conn.name}: no KV entry at ${conn.credentialsPath} (it must hold client_id and client_secret)`,
    );
  }
  const clientId = data["client_id"];
  const secret = data["client_secret"];
  if (typeof clientId !== "string" || clientId === "") {
    throw new RotatorError(
      "CONFIG_INVALID",
      `salesforce.connections.${conn.name}: the KV entry at ${conn.credentialsPath} has no client_id`,
    );
  }
  if (conn.auth === "client_credentials" && (typeof secret !== "string" || secret === "")) {
    throw new RotatorError(
      "CONFIG_INVALID",
      `salesforce.connections.${conn.name}: the KV entry at ${conn.credentialsPath} has no client_secret`,
    );
  }
  const client = new SalesforceClient({
    connection: conn,
    clientId,
    clientSecret: typeof secret === "string" && secret !== "" ? SecretValue.of(secret) : undefined,
    ...(clock ? { clock } : {}),
  });
  return { client, clientId };
}

// Builds what leaves the daemon besides logs and metrics: the audit fan-out (file, syslog, HTTP; stderr when
// none is configured) and the chat notifier (Slack, Teams, signed webhook; the log when none is configured).
// Secret references are resolved here, once, at start-up: a missing file or variable stops start-up naming
// the config key, and so does a resolved URL that is plain http:// to a host that is not loopback without the
// target's allow_insecure_http (with it, a loud warning).
export interface DaemonSinks {
  readonly audit: AuditFanout;
  readonly httpAudit: HttpAuditSink | undefined;
  readonly chat: ChatNotifier;
  /** Names and kinds of the configured chat targets (for metrics labels). */
  readonly targetKinds: ReadonlyMap<string, string>;
  close(): Promise<void>;
}

/** serve's start-up warning and check's line when audit.file is set without audit.chain_key. */
export const UNKEYED_AUDIT_WARNING =
  "the audit chain is unkeyed: anyone who can write the file can rewrite it undetected; set audit.chain_key";

export async function buildDaemonSinks(
  cfg: Config,
  deps: {
    readonly vault: VaultStack;
    readonly env: Readonly<Record<string, string | undefined>>;
    readonly log: Logger;
    readonly metrics: DaemonMetrics;
    readonly clock: Clock;
    readonly lookup: (path: string) => ChatCredential | undefined;
    readonly writeStderr: (line: string) => void;
  },
): Promise<DaemonSinks> {
  if (cfg.audit.file !== undefined && cfg.audit.chainKey === undefined)
    deps.log.warn({ file: cfg.audit.file }, UNKEYED_AUDIT_WARNING);
  const { audit, httpAudit } = await buildAuditFanout(cfg, {
    ...deps,
    onDelivered: (sink) => deps.metrics.recordAuditEvent(sink),
    onFailure: (sink, code, dropped) => {
      deps.metrics.recordAuditFailure(sink);
      deps.log.error(
        { sink, code, ...(dropped === undefined ? {} : { dropped }) },
        "an audit sink failed; the rotation goes on",
      );
    },
  });

  const { chat, targetKinds } = await buildChatNotifier(cfg, deps);

  return {
    audit,
    httpAudit,
    chat,
    targetKinds,
    async close() {
      await audit.close();
      await chat.close();
    },
  };
}

/**
 * Every configured audit sink behind one fan-out: the file, syslog and HTTP sinks, or stderr when none is
 * configured. Used by serve and by the CLI's rotate, rollback and run --once, so a rotation from either reaches
 * the same audit trail. `onFailure` hears of each event a sink finally failed (dropped: HTTP batches).
 */
export async function buildAuditFanout(
  cfg: Config,
  deps: {
    readonly vault: VaultStack;
    readonly env: Readonly<Record<string, string | undefined>>;
    readonly clock: Clock;
    readonly writeStderr: (line: string) => void;
    readonly onFailure: (sink: string, code: string, dropped?: number) => void;
    /** Where the plain-http warning goes; without it, a "warning:" line on stderr. */
    readonly log?: Pick<Logger, "warn">;
    readonly onDelivered?: (sink: string) => void;
  },
): Promise<{ audit: AuditFanout; httpAudit: HttpAuditSink | undefined }> {
  const sinks: NamedAuditSink[] = [];
  let httpAudit: HttpAuditSink | undefined;
  if (cfg.audit.file !== undefined) {
    const chainKey = await loadAuditChainKey(cfg.audit, { env: deps.env, kv: deps.vault.kv });
    sinks.push({ name: "file", sink: new JsonlFileAuditSink(cfg.audit.file, { chainKey }) });
  }
  if (cfg.audit.syslog !== undefined) {
    const s = cfg.audit.syslog;
    sinks.push({
      name: "syslog",
      sink: new SyslogAuditSink({
        transport: s.transport,
        host: s.host,
        port: s.port,
        appName: s.appName,
        facility: s.facility,
      }),
    });
  }
  if (cfg.audit.http !== undefined) {
    const h = cfg.audit.http;
    const rule: UrlRule = {
      allowInsecureHttp: h.allowInsecureHttp,
      optOutKey: "audit.http.allow_insecure_http",
      exposes: "the audit events (and any user name and password in the URL)",
    };
    const { url, insecure } = await resolveUrlRef(h.url, { env: deps.env, kv: deps.vault.kv }, rule);
    if (insecure) {
      if (deps.log) deps.log.warn({ key: rule.optOutKey }, insecureUrlWarning(rule));
      else deps.writeStderr(`warning: ${insecureUrlWarning(rule)}`);
    }
    httpAudit = new HttpAuditSink({
      url,
      batchSize: h.batchSize,
      flushIntervalMs: h.flushIntervalMs,
      clock: deps.clock,
      onDeliveryFailure: (err, dropped) => deps.onFailure("http", err.code, dropped),
    });
    sinks.push({ name: "http", sink: httpAudit });
  }
  // Without any audit sink the events still go somewhere a container runtime keeps: stderr, one JSON per line.
  if (sinks.length === 0) sinks.push({ name: "stderr", sink: new StderrAuditSink(deps.writeStderr) });
  const audit = new AuditFanout(sinks, {
    clock: deps.clock,
    onFailure: (sink, err) => deps.onFailure(sink, classifyError(err)),
    onDelivered: deps.onDelivered,
  });
  return { audit, httpAudit };
}

export interface ChatNotifierDeps {
  readonly vault: VaultStack;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly log: Logger;
  readonly metrics?: DaemonMetrics | undefined;
  readonly clock: Clock;
  readonly lookup: (path: string) => ChatCredential | undefined;
  /** Where claims live. Default: Vault under the state prefix, shared by every replica. */
  readonly dedup?: DedupStore;
}

/**
 * The chat notifier of the config's targets (or one that logs, when none is configured), with dedup in Vault.
 * Shared by serve, `report --send` and `check --notify-test`.
 */
export async function buildChatNotifier(
  cfg: Config,
  deps: ChatNotifierDeps,
): Promise<{ chat: ChatNotifier; targetKinds: ReadonlyMap<string, string>; configured: boolean }> {
  const ctx = { env: deps.env, kv: deps.vault.kv };
  const targetKinds = new Map<string, string>();
  const subs: ChatSubscription[] = [];
  for (const t of cfg.notifications.targets) {
    const rule: UrlRule = {
      allowInsecureHttp: t.allowInsecureHttp,
      optOutKey: `notifications.targets.${t.name}.allow_insecure_http`,
      exposes: "the webhook URL and every message",
    };
    const { url, insecure } = await resolveUrlRef(t.url, ctx, rule);
    if (insecure) deps.log.warn({ target: t.name, key: rule.optOutKey }, insecureUrlWarning(rule));
    const secret = t.secret === undefined ? undefined : await resolveSecretRef(t.secret, ctx);
    const opts = { name: t.name, url, secret, clock: deps.clock };
    const target: ChatTarget =
      t.type === "slack"
        ? new SlackWebhookTarget(opts)
        : t.type === "teams"
          ? new TeamsWorkflowTarget(opts)
          : new SignedWebhookTarget(opts);
    targetKinds.set(t.name, t.type);
    subs.push({ target, events: new Set<ChatEventKind>(t.events as ChatEventKind[]) });
  }
  if (subs.length === 0)
    subs.push({ target: logTarget(deps.log), events: new Set<ChatEventKind>(CHAT_EVENTS) });
  const chat = new ChatNotifier({
    targets: subs,
    dedup: deps.dedup ?? new VaultDedupStore(deps.vault.kv, cfg.vault.statePrefix, deps.clock),
    lookup: deps.lookup,
    clock: deps.clock,
    mount: cfg.vault.kvMount,
    onSent: (target, kind) => {
      deps.metrics?.recordNotification(targetKinds.get(target) ?? "stderr", true);
      deps.log.info({ target, kind }, "chat message sent");
    },
    onFailure: (target, err) => {
      deps.metrics?.recordNotification(targetKinds.get(target) ?? "other", false);
      deps.log.error(
        { target, code: classifyError(err) },
        "a chat message could not be sent; the rotation goes on",
      );
    },
    onDedupFailure: (err) =>
      deps.log.warn({ code: classifyError(err) }, "the chat dedup store failed; sending anyway"),
  });

  return { chat, targetKinds, configured: cfg.notifications.targets.length > 0 };
}

/** No chat target configured: the messages people would have read go to the log instead, in full. */
function logTarget(log: Logger): ChatTarget {
  return {
    name: "log",
    kind: "webhook",
    async send(message) {
      log.info(
        {
          chat: {
            kind: message.kind,
            severity: message.severity,
            title: message.title,
            summary: message.summary,
            next_step: message.nextStep,
          },
        },
        "chat message (no chat target configured)",
      );
    },
  };
}

// The sinks a CLI run uses when nothing else is configured: audit events as JSON lines and notifications as one
// human line each, both on stderr so the command's stdout (the outcome, the table) stays clean for scripts.
// The daemon adds chat; audit.file selects the hash-chained file sink instead.
type LineWriter = (line: string) => void;

/** One JSON object per line, prefixed so it is easy to grep apart from the human lines. */
class StderrAuditSink implements AuditSink {
  readonly #write: LineWriter;

  constructor(write: LineWriter) {
    this.#write = write;
  }

  async emit(event: AuditEvent): Promise<void> {
    // The event is a typed value built by the engine from ids, codes and fingerprints: never a secret.
    this.#write(`audit ${JSON.stringify(event)}`);
  }
}

class StderrNotifier implements Notifier {
  readonly #write: LineWriter;

  constructor(write: LineWriter) {
    this.#write = write;
  }

  async notify(n: Notification): Promise<void> {
    this.#write(`notice: ${n.text}`);
  }
}

// The key behind the keyed fingerprints of consumer keys in audit events, chat and CLI output. A fingerprint
// lets two events be matched ("is this the key that was published?") without showing the key, and without the
// key nobody can test a guessed consumer key against it.
//
// Where the key comes from:
// - audit.fingerprint_key_file: the file's content (trimmed, at least 16 bytes), for installations that want
//   fingerprints to match across several Vaults or to keep the key out of Vault;
// - otherwise a per-installation key in KV at <state_prefix>/fingerprint-key (field `key`: 32 random bytes as
//   hex), created once with cas 0 by the first process that needs it; a process that loses that race reads the
//   winner's key, so every replica fingerprints alike.
// A read-only caller (--dry-run) never creates the entry: it gets a throw-away key (a plan has no fingerprints).
const FINGERPRINT_KEY_ENTRY = "fingerprint-key";
const MIN_FILE_KEY_BYTES = 16;
const HEX_KEY = /^[0-9a-f]{64}$/;

/** HMAC-SHA256(key, clientId), first 16 hex characters. */
export function makeFingerprint(key: Buffer): (clientId: string) => string {
  return (clientId) => createHmac("sha256", key).update(clientId, "utf8").digest("hex").slice(0, 16);
}

export async function loadFingerprintKey(opts: {
  readonly keyFile: string | undefined;
  readonly kv: KvV2;
  readonly statePrefix: string;
  readonly readOnly: boolean;
}): Promise<Buffer> {
  if (opts.keyFile !== undefined) return readKeyFile(opts.keyFile);
  const at = `${opts.statePrefix}/${FINGERPRINT_KEY_ENTRY}`;
  const existing = await readKvKey(opts.kv, at);
  if (existing !== undefined) return existing;
  if (opts.readOnly) return randomBytes(32);
  try {
    await opts.kv.writeData(at, { key: randomBytes(32).toString("hex") }, { cas: 0 });
  } catch (err) {
    if (!isRotatorError(err, "VAULT_CAS_CONFLICT")) throw err; // another process created it first: use theirs
  }
  const created = await readKvKey(opts.kv, at);
  if (created === undefined) throw unreadable(at, "it vanished right after it was created");
  return created;
}

async function readKeyFile(file: string): Promise<Buffer> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "unknown error";
    throw new RotatorError("CONFIG_INVALID", `audit.fingerprint_key_file: cannot read ${file} (${code})`);
  }
  const key = Buffer.from(text.trim(), "utf8");
  if (key.length < MIN_FILE_KEY_BYTES) {
    throw new RotatorError(
      "CONFIG_INVALID",
      `audit.fingerprint_key_file: ${file} must hold at least ${MIN_FILE_KEY_BYTES} bytes of key material`,
    );
  }
  return key;
}

async function readKvKey(kv: KvV2, at: string): Promise<Buffer | undefined> {
  const d = await kv.readData(at);
  if (d === undefined) return undefined;
  const key = d.deleted ? undefined : d.data?.["key"];
  if (typeof key !== "string" || !HEX_KEY.test(key)) {
    throw unreadable(at, "it must hold `key` as 64 hex characters");
  }
  return Buffer.from(key, "hex");
}

function unreadable(at: string, why: string): RotatorError {
  return new RotatorError(
    "CONFIG_INVALID",
    `the fingerprint key at ${at} is unusable: ${why}; delete the entry (all versions) to get a new one, or set audit.fingerprint_key_file`,
    { context: { path: at } },
  );
}
