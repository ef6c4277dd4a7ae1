// The daemon's AuditSink: every event goes to each configured sink (file, syslog, http, stderr) in parallel.
// A failing sink never changes a rotation's outcome: it is retried, counted, reported
// through onFailure and shown in health() (/readyz), and emit() still resolves. Never throws.
// - A RotatorError that says it is not retryable (e.g. an audit file that ends in a torn line) is not retried.
// - One attempt is bounded by emitTimeoutMs: a sink that hangs is counted as failed and not retried (the hung
//   attempt may still land; retrying it could write the event twice).
// - flush() and close() are bounded by closeTimeoutMs too, so shutdown finishes even if a sink hangs.
import { setTimeout as sleep } from "node:timers/promises";
import { isRotatorError, RotatorError } from "../core/errors.ts";
import type { AuditSink } from "../core/rotation/rotation-ports.ts";
import type { AuditEvent } from "../core/rotation/rotation-state.ts";
import { type Clock, systemClock } from "../core/time.ts";

export interface NamedAuditSink {
  readonly name: "file" | "syslog" | "http" | "stderr";
  readonly sink: AuditSink & { flush?(): Promise<void>; close?(): Promise<void> };
}

export interface AuditFanoutOptions {
  /** Further attempts after a sink's emit fails, default 2. */
  readonly retries?: number;
  /** Pause before retry n (1-based) is n × retryDelayMs, default 200. */
  readonly retryDelayMs?: number;
  /** Longest one emit attempt may take, default 30000. */
  readonly emitTimeoutMs?: number;
  /** Longest flush() or close() may take in total, default 5000. */
  readonly closeTimeoutMs?: number;
  /** Called once per event a sink finally failed to take (and for a failed flush or close). Must not throw. */
  readonly onFailure?: (sink: string, err: unknown) => void;
  /** Called once per event a sink took. Must not throw. */
  readonly onDelivered?: ((sink: string) => void) | undefined;
  readonly clock?: Clock;
}

export interface AuditSinkHealth {
  readonly name: string;
  /** False after a failure until the sink's next success. */
  readonly ok: boolean;
  /** Events (and flushes or closes) the sink finally failed. */
  readonly failures: number;
  /** The last failure's error code ("AUDIT_FAILED", "TIMEOUT", "UNCLASSIFIED"); never a message. */
  readonly lastError: string | undefined;
  readonly lastSuccessAt: Date | undefined;
}

interface SinkState {
  readonly entry: NamedAuditSink;
  ok: boolean;
  failures: number;
  lastError: string | undefined;
  lastSuccessAt: Date | undefined;
}

class AttemptTimeout extends Error {
  override readonly name = "AttemptTimeout";
}

export class AuditFanout implements AuditSink {
  readonly #states: SinkState[];
  readonly #retries: number;
  readonly #retryDelayMs: number;
  readonly #emitTimeoutMs: number;
  readonly #closeTimeoutMs: number;
  readonly #onFailure: ((sink: string, err: unknown) => void) | undefined;
  readonly #onDelivered: ((sink: string) => void) | undefined;
  readonly #clock: Clock;

  constructor(sinks: readonly NamedAuditSink[], opts: AuditFanoutOptions = {}) {
    this.#states = sinks.map((entry) => ({
      entry,
      ok: true,
      failures: 0,
      lastError: undefined,
      lastSuccessAt: undefined,
    }));
    this.#retries = Math.max(0, Math.floor(opts.retries ?? 2));
    this.#retryDelayMs = Math.max(0, opts.retryDelayMs ?? 200);
    this.#emitTimeoutMs = opts.emitTimeoutMs ?? 30_000;
    this.#closeTimeoutMs = opts.closeTimeoutMs ?? 5000;
    this.#onFailure = opts.onFailure;
    this.#onDelivered = opts.onDelivered;
    this.#clock = opts.clock ?? systemClock;
  }

  async emit(event: AuditEvent): Promise<void> {
    await Promise.all(this.#states.map((s) => this.#emitTo(s, event)));
  }

  health(): readonly AuditSinkHealth[] {
    return this.#states.map((s) => ({
      name: s.entry.name,
      ok: s.ok,
      failures: s.failures,
      lastError: s.lastError,
      lastSuccessAt: s.lastSuccessAt,
    }));
  }

  /** Every sink's flush, in parallel, for at most closeTimeoutMs. Never throws. */
  async flush(): Promise<void> {
    await this.#callAll("flush");
  }

  /** Every sink's close (which flushes), in parallel, for at most closeTimeoutMs. Never throws. */
  async close(): Promise<void> {
    await this.#callAll("close");
  }

  async #emitTo(state: SinkState, event: AuditEvent): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await withTimeout(state.entry.sink.emit(event), this.#emitTimeoutMs);
        this.#succeeded(state);
        try {
          this.#onDelivered?.(state.entry.name);
        } catch {
          // A counting hook that throws must not turn into a retry or a failure.
        }
        return;
      } catch (err) {
        // A sink already known to be down gets one attempt per event, not retries: every event of every
        // rotation waits for this fan-out, and a dead sink must not slow rotations down.
        const final =
          attempt >= this.#retries ||
          !state.ok ||
          err instanceof AttemptTimeout ||
          (isRotatorError(err) && !err.retryable);
        if (final) {
          this.#failed(state, err);
          return;
        }
        await sleep(this.#retryDelayMs * (attempt + 1));
      }
    }
  }

  async #callAll(method: "flush" | "close"): Promise<void> {
    const deadline = Date.now() + this.#closeTimeoutMs;
    await Promise.all(
      this.#states.map(async (state) => {
        // A sink without close (the file sink) is at least flushed on close.
        const call = state.entry.sink[method] ?? (method === "close" ? state.entry.sink.flush : undefined);
        if (!call) return;
        try {
          await withTimeout(call.call(state.entry.sink), Math.max(1, deadline - Date.now()));
        } catch (err) {
          this.#failed(state, err);
        }
      }),
    );
  }

  #succeeded(state: SinkState): void {
    state.ok = true;
    state.lastSuccessAt = this.#clock.now();
  }

  #failed(state: SinkState, err: unknown): void {
    state.ok = false;
    state.failures++;
    state.lastError =
      err instanceof AttemptTimeout ? "TIMEOUT" : isRotatorError(err) ? err.code : "UNCLASSIFIED";
    const reported =
      err instanceof AttemptTimeout
        ? new RotatorError("AUDIT_FAILED", `the ${state.entry.name} audit sink did not answer in time`, {
            retryable: true,
            context: { sink: state.entry.name, errorCode: "TIMEOUT" },
          })
        : err;
    try {
      this.#onFailure?.(state.entry.name, reported);
    } catch {
      // A reporting hook that throws must not turn into a rotation failure.
    }
  }
}

/** `work`, or an AttemptTimeout after ms; the timer never keeps the process alive on its own. */
function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AttemptTimeout(`no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
