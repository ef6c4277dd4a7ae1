// What the HTTP face is built from. The daemon (src/daemon) supplies these; tests supply a fake view.

import type { ApiToken, AuthFailureReason } from "./bearer-auth.ts";
import type { DaemonView } from "./daemon-view.ts";

export interface HttpAccessRecord {
  readonly msg: "http request";
  readonly method: string;
  /** The route pattern ("/v1/credentials/*"), never the raw path; null when no route matched. */
  readonly route: string | null;
  readonly status: number;
  readonly ms: number;
  readonly requestId: string;
  /** Set when a handler failed: a RotatorError code or "UNCLASSIFIED"; never a message. */
  readonly error?: string;
}

/** A request refused with 401: never the presented token or header, only what it was and who sent it. */
export interface UnauthorizedEvent {
  /** read: a GET route behind read tokens; write: the rotate route. */
  readonly access: "read" | "write";
  readonly reason: AuthFailureReason;
  /** The peer's address (no proxy headers are trusted). */
  readonly client: string;
}

export interface HttpDeps {
  readonly view: DaemonView;
  /** Called on every write request (the caller caches); an empty list means writes are refused. */
  readonly apiTokens: () => Promise<readonly ApiToken[]>;
  /**
   * Set when read tokens are configured: every GET route except /healthz and /readyz then needs one of these
   * or an API token (called per request; the caller caches). Unset: the GET routes are open.
   */
  readonly readTokens?: (() => Promise<readonly ApiToken[]>) | undefined;
  /** Host names the Host header may carry besides IP literals and localhost (server.allowed_hosts). */
  readonly allowedHosts?: readonly string[] | undefined;
  /** Every 401, for the counter and the log summary. */
  readonly onUnauthorized?: ((event: UnauthorizedEvent) => void) | undefined;
  readonly version: string;
  readonly kvMount: string;
  /** One record per request. Never headers, bodies or paths. */
  readonly log?: ((line: HttpAccessRecord) => void) | undefined;
  /** Status page auto-refresh; default 30. */
  readonly refreshSeconds?: number | undefined;
  /** For the status page's relative times; default the system clock. */
  readonly now?: (() => Date) | undefined;
}
