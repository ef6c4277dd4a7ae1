// What the HTTP face is built from. The daemon (src/daemon) supplies these; tests supply a fake view.

import type { ApiToken } from "./bearer-auth.ts";
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

export interface HttpDeps {
  readonly view: DaemonView;
  /** Called on every write request (the caller caches); an empty list means writes are refused. */
  readonly apiTokens: () => Promise<readonly ApiToken[]>;
  readonly version: string;
  readonly kvMount: string;
  /** One record per request. Never headers, bodies or paths. */
  readonly log?: ((line: HttpAccessRecord) => void) | undefined;
  /** Status page auto-refresh; default 30. */
  readonly refreshSeconds?: number | undefined;
  /** For the status page's relative times; default the system clock. */
  readonly now?: (() => Date) | undefined;
}
