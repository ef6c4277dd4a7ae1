// AuditSink for unit tests: keeps every event in order, and fails on demand (a failing sink must never change
// a rotation's outcome).
import { RotatorError } from "../../src/core/errors.ts";
import type { AuditSink } from "../../src/core/rotation/rotation-ports.ts";
import type { AuditEvent } from "../../src/core/rotation/rotation-state.ts";

export class RecordingAuditSink implements AuditSink {
  readonly events: AuditEvent[] = [];
  /** Fail every emit while true. */
  failing = false;
  failures = 0;

  async emit(event: AuditEvent): Promise<void> {
    if (this.failing) {
      this.failures += 1;
      throw new RotatorError("AUDIT_FAILED", "the audit sink is down");
    }
    this.events.push(structuredClone(event));
  }

  types(): string[] {
    return this.events.map((e) => e.type);
  }
}
