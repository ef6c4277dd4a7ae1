// Notifier for unit tests: keeps every notification, and fails on demand (a failed webhook must never change
// a rotation's outcome).
import { RotatorError } from "../../src/core/errors.ts";
import type { Notification, Notifier } from "../../src/core/rotation/rotation-ports.ts";

export class RecordingNotifier implements Notifier {
  readonly sent: Notification[] = [];
  /** Fail every notify while true. */
  failing = false;
  failures = 0;

  async notify(n: Notification): Promise<void> {
    if (this.failing) {
      this.failures += 1;
      throw new RotatorError("NOTIFY_FAILED", "the chat webhook is down");
    }
    this.sent.push(structuredClone(n));
  }
}
