// Pure formatting of one audit event as an RFC 5424 syslog message:
//   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [eca@32473 rotationId="…" path="…" step="…"] MSG
// - MSGID is the event type ("rotation.completed"): receivers can filter on it without parsing MSG.
// - MSG is the event as JSON with every non-ASCII character escaped (\uXXXX). RFC 5424 6.4 demands a BOM before a
//   UTF-8 MSG, but many receivers and log pipelines keep the BOM as part of the text, which breaks JSON parsers
//   downstream; a pure-ASCII MSG is valid MSG-ANY without a BOM and still parses back to the exact event.
// - The structured data repeats the ids people search for (32473 is the documentation enterprise number of
//   RFC 5612: the SD-ID is ours, not a registered one). PARAM-VALUEs escape \ " ] as RFC 5424 6.3.3 says.
// - Size: rsyslog's default maxMessageSize is 8096 bytes (the whole message) and RFC 5426 only promises 480/2048 bytes over UDP. Audit
//   events are a few hundred bytes; only a free-text reason can make one large, so an oversized message has its
//   reason shortened (marked " [truncated]"); if it still does not fit, it is refused (AUDIT_FAILED).
import { RotatorError } from "../../core/errors.ts";
import type { AuditEvent, AuditEventType } from "../../core/rotation/rotation-state.ts";
import { asciiJson, auditEventBody } from "./jsonl-file-audit-sink.ts";

const SD_ID = "eca@32473";
/** rsyslog's default maxMessageSize: it cuts longer messages (measured on rsyslog 8.2302 over UDP and TCP). */
export const DEFAULT_MAX_MESSAGE_BYTES = 8096;
const TRUNCATED = " [truncated]";

const SEVERITY = { err: 3, warning: 4, notice: 5 } as const;

export interface SyslogHeader {
  readonly facility: number;
  readonly hostname: string;
  readonly appName: string;
  readonly procId: string;
  readonly timestamp: Date;
}

function severityOf(type: AuditEventType): number {
  if (type === "rotation.failed") return SEVERITY.err;
  if (type === "rotation.rolled_back" || type === "rotation.retrying") return SEVERITY.warning;
  return SEVERITY.notice;
}

/** The whole message (no framing), at most maxBytes bytes of UTF-8. */
export function formatSyslogMessage(
  event: AuditEvent,
  header: SyslogHeader,
  maxBytes = DEFAULT_MAX_MESSAGE_BYTES,
): string {
  const body = auditEventBody(event);
  let message = render(event, body, header);
  let reason = typeof body["reason"] === "string" ? body["reason"] : "";
  while (Buffer.byteLength(message) > maxBytes && reason.length > 0) {
    const over = Buffer.byteLength(message) - maxBytes;
    reason = reason.slice(0, Math.max(0, reason.length - over - TRUNCATED.length));
    message = render(event, { ...body, reason: `${reason}${TRUNCATED}` }, header);
  }
  if (Buffer.byteLength(message) > maxBytes) {
    throw new RotatorError(
      "AUDIT_FAILED",
      `the ${event.type} syslog message is larger than ${maxBytes} bytes even without its reason`,
      { context: { rotationId: event.rotationId, maxBytes } },
    );
  }
  return message;
}

function render(event: AuditEvent, body: Record<string, unknown>, h: SyslogHeader): string {
  const pri = h.facility * 8 + severityOf(event.type);
  const sd = structuredData([
    ["rotationId", event.rotationId],
    ["path", event.path],
    ["step", event.step],
    ["errorCode", event.errorCode],
  ]);
  return [
    `<${pri}>1`,
    h.timestamp.toISOString(),
    headerField(h.hostname, 255),
    headerField(h.appName, 48),
    headerField(h.procId, 128),
    headerField(event.type, 32),
    sd,
    asciiJson(body),
  ].join(" ");
}

/** Header fields are 1..n printable US-ASCII characters without spaces; "-" stands for none. */
function headerField(value: string, max: number): string {
  const clean = value.replace(/[^\x21-\x7e]/g, "_").slice(0, max);
  return clean === "" ? "-" : clean;
}

function structuredData(params: readonly (readonly [string, string | undefined])[]): string {
  const parts = params
    .filter((p): p is readonly [string, string] => p[1] !== undefined && p[1] !== "")
    .map(([name, value]) => `${name}="${escapeParamValue(value)}"`);
  return parts.length === 0 ? "-" : `[${SD_ID} ${parts.join(" ")}]`;
}

/** RFC 5424 6.3.3: inside a PARAM-VALUE, '"', '\' and ']' are escaped with a backslash. */
function escapeParamValue(value: string): string {
  return value.replace(/[\\"\]]/g, (c) => `\\${c}`);
}
