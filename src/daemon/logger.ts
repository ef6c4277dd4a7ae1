// JSON-line logs for the daemon: one object per line, `level` (a label), `time` (ISO 8601), `service`, the child
// bindings, the fields passed, then `msg`. The first line of defence is that no secret ever reaches a log object
// (values are ids, codes, paths and counts; SecretValue prints "[redacted]"); redaction of the usual secret-
// bearing keys is the second, in case a future log line passes a whole object by mistake. Redaction applies at
// every depth, to the bindings as to the fields.
//
// Writes are synchronous, nothing is buffered here: STDOUT hands each line to the kernel with a blocking write
// before the log call returns, so neither process.exit nor a crash right after a line loses it (Node's own
// process.stdout queues in memory once a pipe is full, and drops that queue on exit).
import { writeSync } from "node:fs";

/** One JSON line, with its trailing newline, goes to `write`. */
export interface LogDestination {
  write(line: string): unknown;
}

/** Standard output, one write per line, retried until the kernel took all of it. */
export const STDOUT: LogDestination = { write: (line: string) => writeAll(1, line) };

const PAUSE = new Int32Array(new SharedArrayBuffer(4));

function writeAll(fd: number, line: string): void {
  let rest = Buffer.from(line);
  while (rest.length > 0) {
    try {
      rest = rest.subarray(writeSync(fd, rest));
    } catch (err) {
      // A pipe in non-blocking mode (Node sets it once anything touches process.stdout) that is full: wait
      // 1 ms for the reader. Anything else (the reader is gone, EPIPE) drops the line: logging never throws.
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN") return;
      Atomics.wait(PAUSE, 0, 0, 1);
    }
  }
}

type LogFn = (fieldsOrMsg: object | string, msg?: string) => void;

export interface Logger {
  readonly level: LogLevel;
  readonly trace: LogFn;
  readonly debug: LogFn;
  readonly info: LogFn;
  readonly warn: LogFn;
  readonly error: LogFn;
  readonly fatal: LogFn;
  /** The same logger with `bindings` added to every line. */
  child(bindings: object): Logger;
}

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
type LogLevel = keyof typeof LEVELS | "silent";

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

/** HTTP header names that carry a credential (lower case, as node reports them). */
const SECRET_HEADERS = [
  "authorization",
  "proxy-authorization",
  "x-vault-token",
  "cookie",
  "set-cookie",
  "x-api-key",
];

const camel = (key: string): string => key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

const REDACTED = new Set([...SECRET_KEYS, ...SECRET_KEYS.map(camel), ...SECRET_HEADERS]);

/**
 * JSON.stringify replacer: censors secret keys at any depth and makes bigints printable. An Error shows its
 * name and code only: its message may quote a URL or a response body.
 */
function redact(key: string, value: unknown): unknown {
  if (REDACTED.has(key) && value !== undefined) return "[redacted]";
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { type: value.name, ...(typeof code === "string" ? { code } : {}) };
  }
  return value;
}

/** `fields` as JSON object members without the braces ("" for none); a line must never throw. */
function members(fields: object): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(fields, redact);
  } catch {
    return '"logFields":"[unserializable]"';
  }
  return json === undefined || json.length <= 2 || json[0] !== "{" ? "" : json.slice(1, -1);
}

export function createLogger(level: string, destination: LogDestination): Logger {
  if (level !== "silent" && !Object.hasOwn(LEVELS, level)) throw new Error(`unknown log level: ${level}`);
  const threshold = level === "silent" ? Number.POSITIVE_INFINITY : LEVELS[level as keyof typeof LEVELS];
  return make(level as LogLevel, threshold, `"service":"eca-rotator"`, destination);
}

function make(level: LogLevel, threshold: number, bound: string, dest: LogDestination): Logger {
  const method = (name: keyof typeof LEVELS): LogFn => {
    if (LEVELS[name] < threshold) return () => {};
    const head = `{"level":"${name}","time":"`;
    return (fieldsOrMsg, msg) => {
      const fields = typeof fieldsOrMsg === "string" ? "" : members(fieldsOrMsg);
      const text = typeof fieldsOrMsg === "string" ? fieldsOrMsg : msg;
      let line = `${head}${new Date().toISOString()}",${bound}`;
      if (fields !== "") line += `,${fields}`;
      if (text !== undefined) line += `,"msg":${JSON.stringify(text)}`;
      dest.write(`${line}}\n`);
    };
  };
  return {
    level,
    trace: method("trace"),
    debug: method("debug"),
    info: method("info"),
    warn: method("warn"),
    error: method("error"),
    fatal: method("fatal"),
    child(bindings) {
      const more = members(bindings);
      return make(level, threshold, more === "" ? bound : `${bound},${more}`, dest);
    },
  };
}
