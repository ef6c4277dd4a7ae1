// The config sections only the daemon uses: chat targets, the extra audit sinks,
// the HTTP API and read tokens, the allowed Host names and the Salesforce API budget. Webhook URLs, HMAC secrets and API tokens are secrets, so
// the file never holds them inline: each is a reference `{file: PATH}`, `{env: NAME}` or `{vault: "PATH#FIELD"}`
// that the daemon resolves at start-up (src/daemon/secret-refs.ts), naming the key when it cannot.

import { z } from "zod";
import { SUBSCRIBABLE_CHAT_EVENTS } from "../core/notify/chat-event.ts";
import { DEFAULT_READERS_WINDOW_MS } from "../core/readers/readers.ts";
import type { SecretValue } from "../core/secret-value.ts";
import { DAY_MS, HOUR_MS, parseDuration } from "../core/time.ts";
import {
  bool,
  duration,
  filePath,
  isLoopbackHost,
  kvPath,
  oneOf,
  text,
  wholeNumber,
} from "./config-fields.ts";
import type { ChatTargetConfig, ReadersConfig, SecretRef } from "./config-types.ts";

export const CHAT_EVENTS = SUBSCRIBABLE_CHAT_EVENTS;

const INLINE_SECRET =
  'is a secret and is never written inline: use {file: PATH}, {env: NAME} or {vault: "KV_PATH#FIELD"}';

/** `{file}`, `{env}` or `{vault: "path#field"}`; exactly one. `key` (the config key, for start-up errors) is set by the caller. */
export function secretRef() {
  return z
    .unknown()
    .superRefine((v, ctx) => {
      if (typeof v === "string") ctx.addIssue({ code: "custom", message: INLINE_SECRET });
    })
    .pipe(
      z
        .strictObject(
          {
            file: filePath().optional(),
            env: text()
              .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: "must be an environment variable name" })
              .optional(),
            vault: text()
              .regex(/^[^#\s]+#[^#\s]+$/, { error: 'must be "KV_PATH#FIELD" (under vault.kv_mount)' })
              .optional(),
          },
          { error: (i) => (i.input === undefined ? "is required" : INLINE_SECRET) },
        )
        .transform((r, ctx): SecretRef => {
          const set = [r.file, r.env, r.vault].filter((x) => x !== undefined).length;
          if (set !== 1) {
            ctx.addIssue({ code: "custom", message: "set exactly one of file, env and vault" });
            return z.NEVER;
          }
          if (r.file !== undefined) return { kind: "file", path: r.file, key: "" };
          if (r.env !== undefined) return { kind: "env", name: r.env, key: "" };
          const [path = "", field = ""] = (r.vault ?? "").split("#");
          const parsed = kvPath().safeParse(path);
          if (!parsed.success) {
            ctx.addIssue({ code: "custom", path: ["vault"], message: "the part before # must be a KV path" });
            return z.NEVER;
          }
          return { kind: "vault", path: parsed.data, field, key: "" };
        }),
    );
}

const targetShape = {
  type: oneOf(["slack", "teams", "webhook"]),
  url: z.unknown(),
  secret: z.unknown(),
  events: z.array(oneOf(CHAT_EVENTS), { error: "must be a list of event names" }).min(1).optional(),
  // The URL is checked once resolved (src/daemon/secret-refs.ts): plain http:// to a host that is not loopback
  // is refused unless this is true.
  allow_insecure_http: bool().default(false),
};
export const TARGET_KEYS = Object.keys(targetShape);

const targetSchema = z
  .strictObject(
    { ...targetShape, url: secretRef(), secret: secretRef().optional() },
    { error: () => "must be a mapping (type, url, secret, events)" },
  )
  .superRefine((t, ctx) => {
    if (t.type === "webhook" && t.secret === undefined)
      ctx.addIssue({ code: "custom", path: ["secret"], message: "is required for type webhook (HMAC key)" });
    if (t.type !== "webhook" && t.secret !== undefined)
      ctx.addIssue({ code: "custom", path: ["secret"], message: "is only used with type webhook" });
  });

const targetName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, {
  error: "target names use letters, digits, '.', '_' and '-' (at most 64)",
});

export const notificationsShape = {
  targets: z.unknown(),
  overdue_repeat: z.unknown(),
};

/** Below this, overdue reminders would be noise: a scan interval or two apart. */
const MIN_OVERDUE_REPEAT_MS = HOUR_MS;

export function notificationsSchema() {
  return z
    .strictObject(
      {
        targets: z
          .record(targetName, targetSchema, {
            error: (i) =>
              i.code === "invalid_type" ? "must be a mapping of target names to targets" : undefined,
          })
          .default({}),
        // How often an overdue credential is reminded of again while it stays overdue; "off": only once.
        overdue_repeat: overdueRepeat().default(7 * DAY_MS),
      },
      { error: () => "must be a mapping (targets, overdue_repeat)" },
    )
    .prefault({})
    .transform((n) => ({
      overdueRepeatMs: n.overdue_repeat === "off" ? undefined : n.overdue_repeat,
      targets: Object.entries(n.targets).map(
        ([name, t]): ChatTargetConfig => ({
          name,
          type: t.type,
          url: keyed(t.url, `notifications.targets.${name}.url`),
          secret:
            t.secret === undefined ? undefined : keyed(t.secret, `notifications.targets.${name}.secret`),
          events: t.events ?? [...CHAT_EVENTS],
          allowInsecureHttp: t.allow_insecure_http,
        }),
      ),
    }));
}

/** A duration of at least 1h, or "off". */
function overdueRepeat() {
  const problem = 'must be a duration of at least 1h, such as 7d (or "off" for a single overdue message)';
  return z.string({ error: problem }).transform((s, ctx): number | "off" => {
    if (s.trim() === "off") return "off";
    const parsed = parseDuration(s);
    if (!parsed.ok || parsed.ms < MIN_OVERDUE_REPEAT_MS) {
      ctx.addIssue({ code: "custom", message: problem });
      return z.NEVER;
    }
    return parsed.ms;
  });
}

export function keyed(ref: SecretRef, key: string): SecretRef {
  return { ...ref, key };
}

export const syslogShape = {
  address: text().regex(/^(udp|tcp):\/\/(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):[0-9]{1,5}$/, {
    error: "must be udp://HOST:PORT or tcp://HOST:PORT",
  }),
  app_name: text()
    .regex(/^[\x21-\x7e]{1,48}$/, { error: "must be 1-48 printable ASCII characters" })
    .default("eca-rotator"),
  facility: wholeNumber(0, 23).default(13),
};

export const httpSinkShape = {
  url: z.unknown(),
  batch_size: wholeNumber(1, 1000).default(50),
  flush_interval: duration().default(1000),
  allow_insecure_http: bool().default(false),
};

export const httpSinkSchema = z.strictObject(
  { ...httpSinkShape, url: secretRef() },
  { error: () => "must be a mapping (url, batch_size, flush_interval)" },
);

export const serverShape = {
  listen: z.unknown(),
  api_tokens: z.unknown(),
  read_tokens: z.unknown(),
  allowed_hosts: z.unknown(),
  shutdown_timeout: duration().default(30_000),
  status_refresh: duration().default(30_000),
};

/** server.api_tokens (writes) or server.read_tokens (the GET routes): token name → secret reference. */
export function apiTokensSchema(key: "api_tokens" | "read_tokens" = "api_tokens") {
  return z
    .record(targetName, secretRef(), {
      error: (i) =>
        i.code === "invalid_type" ? "must be a mapping of token names to secret references" : undefined,
    })
    .default({})
    .transform((m) =>
      Object.entries(m).map(([name, ref]) => ({ name, ref: keyed(ref, `server.${key}.${name}`) })),
    );
}

/**
 * The shortest API or read token accepted. 32 random hex characters are 128 bits: nothing an online guesser
 * gets near, while a word such as "dev-only-api-token" falls to a dictionary.
 */
export const MIN_HTTP_TOKEN_LENGTH = 32;

/**
 * The problem line for a resolved API or read token that is too short, naming its config key and never the
 * value (nor its length, which would narrow a guess); undefined when it is long enough.
 */
export function shortTokenProblem(key: string, token: SecretValue): string | undefined {
  if (token.reveal().length >= MIN_HTTP_TOKEN_LENGTH) return undefined;
  return `${key}: the token is shorter than ${MIN_HTTP_TOKEN_LENGTH} characters; make a random one with \`openssl rand -hex 32\``;
}

// A DNS name (letters, digits, '-', '_' in labels of at most 63), without scheme, port, path or wildcard.
const HOST_NAME =
  /^(?=.{1,253}\.?$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/;

/** server.allowed_hosts: host names the Host header may carry besides IP literals and localhost; lower-cased. */
export function allowedHostsSchema() {
  return z
    .array(
      z
        .string({ error: "must be a host name" })
        .trim()
        .toLowerCase()
        .regex(HOST_NAME, {
          error: "must be a host name such as eca-rotator.eca-rotator.svc (no scheme, port, path or *)",
        })
        .transform((h) => h.replace(/\.$/, "")),
      { error: "must be a list of host names" },
    )
    .default([]);
}

/** Fractions of the org's daily API limit (Sforce-Limit-Info) at which new rotations slow down and stop. */
export const apiBudgetShape = {
  slow_at: z.number({ error: "must be a fraction such as 0.5" }).gt(0).lt(1).default(0.5),
  stop_at: z.number({ error: "must be a fraction such as 0.9" }).gt(0).max(1).default(0.9),
};

/**
 * readers: the reader feed, learnt from Vault's audit device. `socket` is HOST:PORT (Vault's socket audit device
 * connects there) or unix:/PATH; `file` is the file audit device's log. The feed is believed because of where
 * it comes from, so a TCP address that is not loopback is refused unless allow_remote is true.
 */
export const readersShape = {
  socket: text().optional(),
  socket_mode: oneOf(["0600", "0660"]).default("0600"),
  file: filePath().optional(),
  window: duration({ maxMs: 90 * DAY_MS }).default(DEFAULT_READERS_WINDOW_MS),
  ignore: z.array(text(), { error: "must be a list of display names" }).default([]),
  share_interval: duration({ maxMs: HOUR_MS }).default(10_000),
  allow_remote: bool().default(false),
};

const TCP_ADDRESS = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]/]+):([0-9]{1,5})$/;

export function readersSchema() {
  return z
    .strictObject(readersShape, { error: () => "must be a mapping (socket, file, window, ...)" })
    .transform((r, ctx): ReadersConfig => {
      if (r.socket === undefined && r.file === undefined)
        ctx.addIssue({
          code: "custom",
          message: "needs readers.socket or readers.file (where audit lines come from)",
        });
      let socket: ReadersConfig["socket"];
      if (r.socket?.startsWith("unix:")) {
        const p = r.socket.slice("unix:".length);
        if (!p.startsWith("/"))
          ctx.addIssue({
            code: "custom",
            path: ["socket"],
            message: "unix: needs an absolute path, such as unix:/run/eca/audit.sock",
          });
        socket = { kind: "unix", path: p, mode: Number.parseInt(r.socket_mode, 8) };
      } else if (r.socket !== undefined) {
        const m = TCP_ADDRESS.exec(r.socket);
        const port = Number(m?.[2] ?? "-1");
        const host = (m?.[1] ?? "").replace(/^\[|\]$/g, "");
        if (m === null || port < 0 || port > 65_535) {
          ctx.addIssue({
            code: "custom",
            path: ["socket"],
            message: "must be HOST:PORT (such as 127.0.0.1:9201) or unix:/PATH",
          });
        } else if (!isLoopbackHost(m[1] ?? "") && !r.allow_remote) {
          ctx.addIssue({
            code: "custom",
            path: ["socket"],
            message:
              "is not a loopback address: anyone who can connect could forge reads, since the feed is trusted by where it comes from; use a loopback address or unix:/PATH, or set readers.allow_remote: true",
          });
        }
        socket = { kind: "tcp", host, port };
      }
      return {
        socket,
        file: r.file,
        windowMs: r.window,
        ignore: r.ignore,
        shareIntervalMs: r.share_interval,
        allowRemote: r.allow_remote,
      };
    })
    .optional();
}
