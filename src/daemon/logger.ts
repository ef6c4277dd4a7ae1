// pino JSON logs for the daemon. The first line of defence is that no secret ever reaches a log object
// (values are ids, codes, paths and counts; SecretValue prints "[redacted]"); redaction of the usual secret-
// bearing keys is the second, in case a future log line passes a whole object by mistake.
import { type DestinationStream, type Logger, pino } from "pino";

export type { Logger } from "pino";

const REDACT = [
  "token",
  "secret",
  "url",
  "authorization",
  "client_secret",
  "api_key",
  "previous_key",
  "*.token",
  "*.secret",
  "*.url",
  "*.authorization",
  "*.client_secret",
  "*.api_key",
  "*.previous_key",
  "headers.authorization",
  "req.headers.authorization",
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
