// The engine's Notifier on chat: each event becomes one ChatMessage, claimed once in a DedupStore (shared in Vault
// when several replicas run), then sent to every target subscribed to its kind, in parallel. A failing target is
// reported through onFailure and never throws out of notify or send: chat never changes a rotation's outcome.

import type { ChatTarget } from "../adapters/chat/chat-target.ts";
import { isRotatorError, RotatorError } from "../core/errors.ts";
import type {
  ChatCredential,
  ChatEvent,
  ChatEventKind,
  RotationChatEvent,
} from "../core/notify/chat-event.ts";
import { buildChatMessage } from "../core/notify/chat-message.ts";
import type { Notification, Notifier } from "../core/rotation/rotation-ports.ts";
import { type Clock, DAY_MS, systemClock } from "../core/time.ts";

/** Who has already been told. Shared by replicas, so exactly one of them sends each message. */
export interface DedupStore {
  /** True for the first claim of `key` (send it); false while an earlier claim is younger than ttlMs. */
  claim(key: string, ttlMs: number): Promise<boolean>;
  /** Gives a claim back (its message reached no target), so the next occurrence is sent. Best effort. */
  release?(key: string): Promise<void>;
}

const MEMORY_PRUNE_AT = 10_000;

/** A DedupStore for one process (tests, `run --once`). */
export class MemoryDedupStore implements DedupStore {
  /** key → when its claim expires (ms). */
  readonly #claims = new Map<string, number>();
  readonly #clock: Clock;

  constructor(clock: Clock = systemClock) {
    this.#clock = clock;
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    const now = this.#clock.now().getTime();
    const until = this.#claims.get(key);
    if (until !== undefined && now < until) return false;
    if (this.#claims.size >= MEMORY_PRUNE_AT) {
      for (const [k, u] of this.#claims) if (u <= now) this.#claims.delete(k);
    }
    this.#claims.set(key, now + ttlMs);
    return true;
  }

  async release(key: string): Promise<void> {
    this.#claims.delete(key);
  }
}

export interface ChatSubscription {
  readonly target: ChatTarget;
  readonly events: ReadonlySet<ChatEventKind>;
}

export interface ChatNotifierOptions {
  readonly targets: readonly ChatSubscription[];
  readonly dedup: DedupStore;
  /** Consumers, contact, provider and state of a credential from the last scan; undefined when unknown. */
  readonly lookup: (path: string) => ChatCredential | undefined;
  readonly clock?: Clock;
  /** The KV mount, for the commands in next steps. Default "secret". */
  readonly mount?: string;
  readonly onFailure?: (target: string, err: unknown) => void;
  readonly onSent?: (target: string, kind: ChatEventKind) => void;
  /** The dedup store failed; the message is sent anyway (a duplicate is better than silence). */
  readonly onDedupFailure?: (err: unknown) => void;
}

export interface SendResult {
  readonly sent: string[];
  readonly deduplicated: boolean;
  readonly failed: string[];
}

export interface TestResult {
  readonly target: string;
  readonly ok: boolean;
  /** The error code and status (e.g. "NOTIFY_FAILED: chat target "ops" (slack): HTTP 400 invalid_payload"). */
  readonly error?: string;
}

/**
 * How long a claim holds. Rotation events are unique per rotation id anyway; a deadline warning is sent once per
 * deadline (the weekly report repeats what stays overdue), so its claim must outlive any warning window.
 */
function dedupTtlMs(kind: ChatEventKind): number {
  if (kind === "credential.due_soon" || kind === "credential.overdue") return 400 * DAY_MS;
  return 30 * DAY_MS;
}

export class ChatNotifier implements Notifier {
  readonly #o: ChatNotifierOptions;
  readonly #clock: Clock;

  constructor(opts: ChatNotifierOptions) {
    this.#o = opts;
    this.#clock = opts.clock ?? systemClock;
  }

  /** The engine's notice → a chat event, filled in from the last scan. Never throws. */
  async notify(n: Notification): Promise<void> {
    try {
      await this.send(this.#toEvent(n));
    } catch (err) {
      this.#o.onFailure?.("(notifier)", err);
    }
  }

  /** Claims the message's dedup key, then sends to every subscribed target. Never throws for a target. */
  async send(event: ChatEvent): Promise<SendResult> {
    const subs = this.#o.targets.filter((s) => s.events.has(event.kind));
    if (subs.length === 0) return { sent: [], deduplicated: false, failed: [] };
    const message = buildChatMessage(event, this.#o.mount === undefined ? {} : { mount: this.#o.mount });
    let claimed = true;
    try {
      claimed = await this.#o.dedup.claim(message.dedupKey, dedupTtlMs(event.kind));
    } catch (err) {
      this.#o.onDedupFailure?.(err);
    }
    if (!claimed) return { sent: [], deduplicated: true, failed: [] };

    const results = await Promise.all(subs.map((s) => this.#sendOne(s.target, () => s.target.send(message))));
    const sent = subs.filter((_, i) => results[i] === undefined).map((s) => s.target.name);
    const failed = subs.filter((_, i) => results[i] !== undefined).map((s) => s.target.name);
    for (const name of sent) this.#o.onSent?.(name, event.kind);
    if (sent.length === 0) await this.#release(message.dedupKey);
    return { sent, deduplicated: false, failed };
  }

  /** A "test" message, in each target's own format, to every target (or the one named); no dedup, no filter. */
  async sendTest(targetName?: string): Promise<TestResult[]> {
    const targets = this.#o.targets
      .map((s) => s.target)
      .filter((t) => targetName === undefined || t.name === targetName);
    if (targetName !== undefined && targets.length === 0) {
      throw new RotatorError("USAGE", `no chat target is named "${targetName}"`, {
        context: { target: targetName },
      });
    }
    const at = this.#clock.now();
    return Promise.all(
      targets.map(async (t): Promise<TestResult> => {
        const message = buildChatMessage({ kind: "test", at, target: t.name });
        const err = await this.#sendOne(t, () => t.send(message));
        if (err === undefined) {
          this.#o.onSent?.(t.name, "test");
          return { target: t.name, ok: true };
        }
        return { target: t.name, ok: false, error: isRotatorError(err) ? err.toLine() : "UNCLASSIFIED" };
      }),
    );
  }

  /** Closes the targets' own connection pools. */
  async close(): Promise<void> {
    await Promise.all(this.#o.targets.map((s) => s.target.close?.()));
  }

  /** undefined on success, else the error (already reported through onFailure). */
  async #sendOne(target: ChatTarget, send: () => Promise<void>): Promise<unknown> {
    try {
      await send();
      return undefined;
    } catch (err) {
      this.#o.onFailure?.(target.name, err);
      return err ?? new Error("unknown failure");
    }
  }

  async #release(key: string): Promise<void> {
    try {
      await this.#o.dedup.release?.(key);
    } catch (err) {
      this.#o.onDedupFailure?.(err);
    }
  }

  #toEvent(n: Notification): RotationChatEvent {
    let credential: ChatCredential | undefined;
    try {
      credential = this.#o.lookup(n.path);
    } catch {
      credential = undefined;
    }
    return {
      kind: n.kind,
      credential:
        credential === undefined
          ? { path: n.path, provider: n.provider, consumers: [] }
          : { ...credential, path: n.path, provider: n.provider },
      rotationId: n.rotationId,
      mode: n.mode,
      text: n.text,
      errorCode: n.errorCode,
      at: this.#clock.now(),
    };
  }
}
