// Counts and times every HTTP request sent in this process, per origin (Vault, the simulator), from the
// diagnostics channels of the rotator's HTTP client (its adapters) and of undici (the bench's own bare loops and
// seeding): nothing in src/ is wrapped or changed to be measured. A request is attributed to the unit of work
// (one rotation) whose AsyncLocalStorage scope was active when it was created, so a rotation's own work can be
// computed as its wall time minus the time it spent waiting on the network.
import { AsyncLocalStorage } from "node:async_hooks";
import { subscribe, unsubscribe } from "node:diagnostics_channel";

export interface WorkScope {
  /** Request intervals [start, end] in performance.now() ms. */
  readonly intervals: Array<[number, number]>;
  readonly calls: Map<string, number>;
  /** Every request, in the order it was created. */
  readonly requests: MeteredRequest[];
}

export interface MeteredRequest {
  /** http://host:port */
  readonly origin: string;
  readonly method: string;
  /** The path with its query string. */
  readonly path: string;
}

/** What the rotator's HTTP client publishes when a request starts, and again (the same object) when it ends. */
interface ClientNote {
  readonly origin: string;
  readonly method: string;
  readonly path: string;
}

interface UndiciRequest {
  readonly origin?: string | URL;
  readonly method?: string;
  readonly path?: string;
}

export class RequestMeter {
  readonly #scope = new AsyncLocalStorage<WorkScope>();
  readonly #counts = new Map<string, number>();
  /** Requests in flight: their end comes on another channel. */
  readonly #pending = new WeakMap<object, (end: number) => void>();
  readonly #onClientStart = (msg: unknown) => {
    const note = msg as ClientNote;
    this.#pending.set(note, this.#record(note.origin, note.method, note.path));
  };
  /** A request ends once its answer was read to the end, or it failed. */
  readonly #onClientDone = (msg: unknown) => {
    this.#pending.get(msg as object)?.(performance.now());
    this.#pending.delete(msg as object);
  };
  readonly #onUndiciCreate = (msg: unknown) => {
    const request = (msg as { request: UndiciRequest & object }).request;
    const origin = String(request.origin ?? "").replace(/\/+$/, "");
    this.#pending.set(request, this.#record(origin, request.method, request.path));
  };
  readonly #onUndiciEnd = (msg: unknown) => {
    const request = (msg as { request: object }).request;
    this.#pending.get(request)?.(performance.now());
    this.#pending.delete(request);
  };

  constructor() {
    subscribe("eca-rotator:http.request", this.#onClientStart);
    subscribe("eca-rotator:http.done", this.#onClientDone);
    subscribe("undici:request:create", this.#onUndiciCreate);
    subscribe("undici:request:trailers", this.#onUndiciEnd);
    subscribe("undici:request:error", this.#onUndiciEnd);
  }

  /** Requests created so far to `origin` (http://host:port), over the whole process. */
  count(origin: string): number {
    return this.#counts.get(origin.replace(/\/+$/, "")) ?? 0;
  }

  /** Runs `fn` with its requests attributed to a fresh scope. */
  async within<T>(fn: () => Promise<T>): Promise<{ value: T; scope: WorkScope }> {
    const scope: WorkScope = { intervals: [], calls: new Map(), requests: [] };
    const value = await this.#scope.run(scope, fn);
    return { value, scope };
  }

  close(): void {
    unsubscribe("eca-rotator:http.request", this.#onClientStart);
    unsubscribe("eca-rotator:http.done", this.#onClientDone);
    unsubscribe("undici:request:create", this.#onUndiciCreate);
    unsubscribe("undici:request:trailers", this.#onUndiciEnd);
    unsubscribe("undici:request:error", this.#onUndiciEnd);
  }

  /** Counts one request; the returned function closes its interval. */
  #record(origin: string, method: string | undefined, path: string | undefined): (end: number) => void {
    this.#counts.set(origin, (this.#counts.get(origin) ?? 0) + 1);
    const scope = this.#scope.getStore();
    if (scope !== undefined) {
      scope.calls.set(origin, (scope.calls.get(origin) ?? 0) + 1);
      scope.requests.push({ origin, method: method ?? "?", path: path ?? "?" });
    }
    const t0 = performance.now();
    return (end) => scope?.intervals.push([t0, end]);
  }
}

/** Total length of the union of intervals: overlapping waits count once. */
export function unionMs(intervals: ReadonlyArray<readonly [number, number]>): number {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let curStart = Number.NEGATIVE_INFINITY;
  let curEnd = Number.NEGATIVE_INFINITY;
  for (const [s, e] of sorted) {
    if (s > curEnd) {
      if (curEnd > curStart) total += curEnd - curStart;
      curStart = s;
      curEnd = e;
    } else if (e > curEnd) {
      curEnd = e;
    }
  }
  if (curEnd > curStart) total += curEnd - curStart;
  return total;
}

/**
 * What a rotation's request was for, in the words of the call table in docs/rotation.md (Vault and Salesforce
 * calls). `vault` is Vault's origin and `statePrefix` the rotator's state prefix; anything else is Salesforce.
 */
export function callKind(r: MeteredRequest, vault: string, statePrefix: string): string {
  const path = r.path.split("?")[0] ?? "";
  const query = r.path.includes("?") ? r.path.slice(r.path.indexOf("?")) : "";
  if (r.origin === vault.replace(/\/+$/, "")) {
    const state = new RegExp(`/(data|metadata)/${escapeRegExp(statePrefix)}/(journal|leases|owners)/`).exec(
      path,
    );
    if (state !== null) {
      const what = { journal: "journal", leases: "lease", owners: "owner record" }[state[2] as string];
      const verb = r.method === "GET" ? "read" : r.method === "DELETE" ? "delete" : "write";
      return `${verb} ${what}`;
    }
    if (/\/v1\/[^/]+\/data\//.test(path)) {
      return r.method === "GET" ? "read credential" : "write credential fields";
    }
    if (/\/v1\/[^/]+\/metadata\//.test(path)) {
      return r.method === "GET" ? "read credential metadata" : "patch credential metadata";
    }
    return `Vault ${r.method} ${path}`;
  }
  if (path === "/services/oauth2/token") return "token request";
  if (path === "/services/oauth2/revoke") return "revoke token";
  if (path === "/services/oauth2/userinfo") return "userinfo";
  const eca = /\/apps\/oauth\/credentials\/[^/]+(\/[^/]+)?(\/staged)?(\/[^/]+)?$/.exec(path);
  if (eca !== null) {
    if (eca[1] === undefined) return "list consumers";
    if (eca[2] === undefined) return query.includes("part=key") ? "read main key" : "read consumer";
    if (eca[3] === undefined) return r.method === "POST" ? "create staged (POST)" : "list staged";
    return r.method === "PATCH"
      ? "promote staged (PATCH)"
      : r.method === "DELETE"
        ? "delete staged (DELETE)"
        : "read staged";
  }
  return `Salesforce ${r.method} ${path}`;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
