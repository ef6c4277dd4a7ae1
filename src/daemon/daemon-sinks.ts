// Builds what leaves the daemon besides logs and metrics: the audit fan-out (file, syslog, HTTP; stderr when
// none is configured) and the chat notifier (Slack, Teams, signed webhook; the log when none is configured).
// Secret references are resolved here, once, at start-up: a missing file or variable stops start-up naming
// the config key, and so does a resolved URL that is plain http:// to a host that is not loopback without the
// target's allow_insecure_http (with it, a loud warning).
import { HttpAuditSink } from "../adapters/audit/http-audit-sink.ts";
import { JsonlFileAuditSink } from "../adapters/audit/jsonl-file-audit-sink.ts";
import { SyslogAuditSink } from "../adapters/audit/syslog-audit-sink.ts";
import type { ChatTarget } from "../adapters/chat/chat-target.ts";
import { SignedWebhookTarget } from "../adapters/chat/signed-webhook.ts";
import { SlackWebhookTarget } from "../adapters/chat/slack-webhook.ts";
import { TeamsWorkflowTarget } from "../adapters/chat/teams-webhook.ts";
import { AuditFanout, type NamedAuditSink } from "../app/audit-fanout.ts";
import { ChatNotifier, type ChatSubscription, type DedupStore } from "../app/chat-notifier.ts";
import type { VaultStack } from "../app/container.ts";
import { StderrAuditSink } from "../app/stderr-sinks.ts";
import { VaultDedupStore } from "../app/vault-dedup-store.ts";
import type { Config } from "../config/config-types.ts";
import { CHAT_EVENTS } from "../config/daemon-sections.ts";
import type { Clock } from "../core/clock.ts";
import { classifyError } from "../core/errors.ts";
import type { ChatCredential, ChatEventKind } from "../core/notify/chat-event.ts";
import type { Logger } from "./logger.ts";
import type { DaemonMetrics } from "./metrics.ts";
import {
  insecureUrlWarning,
  loadAuditChainKey,
  resolveSecretRef,
  resolveUrlRef,
  type UrlRule,
} from "./secret-refs.ts";

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
