// The sinks a CLI run uses when nothing else is configured: audit events as JSON lines and notifications as one
// human line each, both on stderr so the command's stdout (the outcome, the table) stays clean for scripts.
// The daemon adds chat; audit.file selects the hash-chained file sink instead (app/compose.ts).
import type { AuditEvent } from "../core/rotation/audit-events.ts";
import type { AuditSink, Notification, Notifier } from "../core/rotation/rotation-ports.ts";

export type LineWriter = (line: string) => void;

/** One JSON object per line, prefixed so it is easy to grep apart from the human lines. */
export class StderrAuditSink implements AuditSink {
  readonly #write: LineWriter;

  constructor(write: LineWriter) {
    this.#write = write;
  }

  async emit(event: AuditEvent): Promise<void> {
    // The event is a typed value built by the engine from ids, codes and fingerprints: never a secret.
    this.#write(`audit ${JSON.stringify(event)}`);
  }
}

export class StderrNotifier implements Notifier {
  readonly #write: LineWriter;

  constructor(write: LineWriter) {
    this.#write = write;
  }

  async notify(n: Notification): Promise<void> {
    this.#write(`notice: ${n.text}`);
  }
}
