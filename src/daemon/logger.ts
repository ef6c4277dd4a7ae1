// pino JSON logs for the daemon. The first line of defence is that no secret ever reaches a log object
// (values are ids, codes, paths and counts; SecretValue prints "[redacted]"); redaction of the usual secret-
// bearing keys is the second, in case a future log line passes a whole object by mistake.
import { type DestinationStream, type Logger, pino } from "pino";

export type { Logger } from "pino";

/** Keys whose value is a secret wherever they appear; the snake_case ones also in camelCase. */
const SECRET_KEYS = [
  "token",
  "secret",
  "url",
  "password",
  "authorization",
  "client_secret",
  "consumer_secret",
  "client_token",
  "secret_id",
  "api_key",
  "previous_key",
  "pending_api_key",
  "new_secret",
  "current_secret",
  "previous_secret",
  "access_token",
  "refresh_token",
  "private_key",
];

/** HTTP header names that carry a credential (lower case, as node and undici report them). */
const SECRET_HEADERS = [
  "authorization",
  "proxy-authorization",
  "x-vault-token",
  "cookie",
  "set-cookie",
  "x-api-key",
];

const camel = (key: string): string => key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** One path segment: dot notation for plain names, bracket notation for names with dashes. */
const segment = (key: string): string => (/^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `["${key}"]`);

/**
 * `key` at the top level and one and two levels down (`*` is exactly one level in pino's path syntax, and every
 * wildcard costs time on every line, so deeper nesting is left to the first line of defence).
 */
function anywhere(key: string): string[] {
  const s = segment(key);
  return [s.replace(/^\./, ""), `*${s}`, `*.*${s}`];
}

const REDACT = [
  ...new Set([
    ...[...SECRET_KEYS, ...SECRET_KEYS.map(camel), ...SECRET_HEADERS].flatMap(anywhere),
    // A headers object three levels down: `err.response.headers.authorization` and the like.
    ...SECRET_HEADERS.map((h) => `*.*.headers${segment(h)}`),
  ]),
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "eca-rotator" },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT, censor: "[redacted]" },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
