// The undici Agent an HTTP adapter uses when none is injected: a timeout on every phase (undici's defaults are
// 300 s) plus optional TLS material.
import { Agent } from "undici";

export interface TimeoutAgentTls {
  readonly ca?: readonly Buffer[];
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly servername?: string;
  readonly rejectUnauthorized?: boolean;
}

export function buildTimeoutAgent(timeoutMs: number, tls: TimeoutAgentTls = {}): Agent {
  return new Agent({
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connect: {
      timeout: timeoutMs,
      rejectUnauthorized: tls.rejectUnauthorized ?? true,
      ...(tls.ca && tls.ca.length > 0 ? { ca: [...tls.ca] } : {}),
      ...(tls.cert ? { cert: tls.cert } : {}),
      ...(tls.key ? { key: tls.key } : {}),
      ...(tls.servername ? { servername: tls.servername } : {}),
    },
  });
}
