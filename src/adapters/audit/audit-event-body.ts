// What the network sinks (syslog, HTTP) send of an AuditEvent: its declared members only, so a stray field on an
// event object can never carry a secret out of the process. The file sink writes the same members, in this order.
import type { AuditEvent } from "../../core/rotation/audit-events.ts";

/** Every AuditEvent member, in the order sent. tsc fails here when AuditEvent gains or loses a member. */
const AUDIT_FIELDS = {
  type: true,
  time: true,
  rotationId: true,
  path: true,
  provider: true,
  mode: true,
  trigger: true,
  actor: true,
  step: true,
  reason: true,
  kvVersion: true,
  stagedId: true,
  keyFingerprint: true,
  errorCode: true,
  outageMs: true,
  durationMs: true,
  subject: true,
  previousOwner: true,
  deathProof: true,
  evidence: true,
} as const satisfies Record<keyof AuditEvent, true>;

/** A snapshot of the event's members (absent ones left out): later changes to `event` do not reach it. */
export function auditEventBody(event: AuditEvent): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(AUDIT_FIELDS) as (keyof AuditEvent)[]) {
    const v = event[key];
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/** JSON with every non-ASCII character as a \uXXXX escape: pure ASCII, so no charset question downstream. */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
