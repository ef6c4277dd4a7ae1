// Leases make several replicas safe: one owner per credential at a time, and a fencing counter that grows with
// every change of owner. Every journal write carries the fence it was made under and is written with cas on the
// journal's version, so a process that was paused past its lease cannot clobber the newer owner's work. The lease
// itself is a KV entry written with check-and-set: of two replicas that decide to claim, only one write succeeds.
//
// A lease is short (rotation.lease_ttl, 30s by default) and follows its owner: while a run holds it, LeaseHold
// renews it in the background every third of its TTL, with cas on the version it last wrote, however long a step
// takes (a verification may poll for verify_timeout). When the owner dies the renewals stop and the lease lapses
// within lease_ttl, so the next scan of any replica resumes the rotation. A renewal that loses the cas race (the
// lease was taken over) or cannot be written before the lease runs out (Vault unreachable) marks the hold lost,
// and check(), which every guarded write calls first, then stops the run before it changes anything more.
// check() reads nothing from Vault: it looks at what the renewals achieved.

import { classifyError, isRotatorError, RotatorError } from "../errors.ts";
import type { Clock, Scheduler, TimerHandle } from "../time.ts";
import type { Lease, RotationStateStore } from "./rotation-ports.ts";

export type ClaimResult =
  | { readonly ok: true; readonly lease: Lease; readonly takeover: boolean }
  | { readonly ok: false; readonly heldBy: string; readonly until: Date };

/**
 * Decide a claim (or a renewal, when `owner` already holds it) against the lease read from Vault.
 * An expired lease is taken over with a higher fence: the previous owner's late writes are then refused.
 */
export function claimLease(current: Lease | undefined, owner: string, now: Date, ttlMs: number): ClaimResult {
  const expiresAt = new Date(now.getTime() + ttlMs);
  if (current === undefined) return { ok: true, lease: { owner, expiresAt, fence: 1 }, takeover: false };
  if (current.owner === owner && current.expiresAt > now) {
    return { ok: true, lease: { owner, expiresAt, fence: current.fence }, takeover: false };
  }
  if (current.expiresAt <= now) {
    return {
      ok: true,
      lease: { owner, expiresAt, fence: current.fence + 1 },
      takeover: current.owner !== owner,
    };
  }
  return { ok: false, heldBy: current.owner, until: current.expiresAt };
}

export interface LeaseHoldDeps {
  readonly state: Pick<RotationStateStore, "readLease" | "writeLease" | "deleteLease">;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly owner: string;
  readonly ttlMs: number;
}

/** After a failed renewal the next attempt starts this long after the failed one began (a third of a period at most). */
const RETRY_GAP_MS = 1_000;

/**
 * A lease this process holds, from its claim until release() or remove(), renewed in the background. The timer
 * is unref'd (it never keeps a process alive) and is gone once the hold is stopped, released or lost.
 */
export class LeaseHold {
  readonly path: string;
  readonly #d: LeaseHoldDeps;
  #lease: Lease;
  #version: number;
  #timer: TimerHandle | undefined;
  #inFlight: Promise<void> | undefined;
  #lastAttemptAt = 0;
  #lastError: unknown;
  #lost: RotatorError | undefined;
  #stopped = false;

  /** `lease` was just written at `version` (the claim); renewals start at once. */
  constructor(deps: LeaseHoldDeps, path: string, lease: Lease, version: number) {
    this.#d = deps;
    this.path = path;
    this.#lease = lease;
    this.#version = version;
    this.#arm();
  }

  get lease(): Lease {
    return this.#lease;
  }

  /** True while a renewal is scheduled or under way. */
  get renewing(): boolean {
    return this.#timer !== undefined || this.#inFlight !== undefined;
  }

  /** Whether a renewal found the lease gone to another owner, or could not renew it before it ran out. */
  get lost(): boolean {
    return this.#lost !== undefined;
  }

  /**
   * The guard: passes while the lease has more than a third of its TTL left, which the renewals keep true. When a
   * renewal is late (a slow Vault, a blocked event loop) it waits for one; it throws ROTATION_LEASE_HELD when the
   * lease is lost or could not be renewed. Costs no Vault call while the renewals keep up.
   */
  async check(): Promise<void> {
    if (this.#lost !== undefined) throw this.#lost;
    if (this.#stopped) throw leaseLost(this.path, undefined);
    if (this.#left() > this.#periodMs()) return;
    await this.#renew();
    if (this.#lost !== undefined) throw this.#lost;
    if (this.#left() > this.#periodMs()) return;
    throw unrenewed(this.path, this.#lastError);
  }

  /** Stops renewing (idempotent); the lease stays in Vault until it expires. Every engine call ends with this. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#d.scheduler.cancel(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Gives the lease up: expired in place (fence kept, so the next claim gets a higher one) while a journal
   * remains, deleted when the credential has no rotation any more. Best effort: an unreleased lease lapses.
   */
  async release(journalRemains: boolean): Promise<void> {
    this.stop();
    await this.#inFlight;
    if (this.#lost !== undefined) return;
    try {
      if (journalRemains) {
        const expired = { ...this.#lease, expiresAt: this.#d.clock.now() };
        this.#version = await this.#d.state.writeLease(this.path, expired, this.#version);
        this.#lease = expired;
      } else {
        await this.#deleteIfOurs();
      }
    } catch {
      // The lease expires on its own; releasing early only lets another replica start sooner.
    }
  }

  /** Deletes the lease at the end of a rotation (the journal is gone); errors reach the caller. */
  async remove(): Promise<void> {
    this.stop();
    await this.#inFlight;
    if (this.#lost !== undefined) throw this.#lost;
    await this.#deleteIfOurs();
  }

  #periodMs(): number {
    return this.#d.ttlMs / 3;
  }

  #left(): number {
    return this.#lease.expiresAt.getTime() - this.#d.clock.now().getTime();
  }

  #arm(): void {
    if (
      this.#stopped ||
      this.#lost !== undefined ||
      this.#timer !== undefined ||
      this.#inFlight !== undefined
    )
      return;
    const due =
      this.#lastError === undefined
        ? this.#lease.expiresAt.getTime() - this.#d.ttlMs + this.#periodMs()
        : this.#lastAttemptAt + Math.min(RETRY_GAP_MS, this.#periodMs() / 3);
    this.#timer = this.#d.scheduler.schedule(() => {
      this.#timer = undefined;
      return this.#renew();
    }, due - this.#d.clock.now().getTime());
  }

  /** One renewal at a time: joins the one under way or starts one. Never rejects. */
  #renew(): Promise<void> {
    if (this.#inFlight === undefined) {
      if (this.#timer !== undefined) this.#d.scheduler.cancel(this.#timer);
      this.#timer = undefined;
      this.#inFlight = this.#attempt().finally(() => {
        this.#inFlight = undefined;
        this.#arm();
      });
    }
    return this.#inFlight;
  }

  async #attempt(): Promise<void> {
    if (this.#stopped || this.#lost !== undefined) return;
    const sentAt = this.#d.clock.now();
    this.#lastAttemptAt = sentAt.getTime();
    if (this.#left() <= 0) {
      this.#lost = unrenewed(this.path, this.#lastError);
      return;
    }
    const next: Lease = {
      owner: this.#d.owner,
      fence: this.#lease.fence,
      expiresAt: new Date(sentAt.getTime() + this.#d.ttlMs),
    };
    try {
      this.#version = await this.#d.state.writeLease(this.path, next, this.#version);
      this.#lease = next;
      this.#lastError = undefined;
      return;
    } catch (err) {
      if (!isRotatorError(err, "VAULT_CAS_CONFLICT")) return this.#failed(err);
    }
    // Someone wrote the lease since our last write, or our last write landed and only its answer was lost.
    try {
      const found = await this.#d.state.readLease(this.path);
      const v = found?.value;
      if (found !== undefined && v?.owner === this.#d.owner && v.fence === this.#lease.fence) {
        this.#version = found.version;
        this.#lease = found.value;
        this.#lastError = undefined;
        return;
      }
      this.#lost = leaseLost(this.path, v);
    } catch (err) {
      this.#failed(err);
    }
  }

  #failed(err: unknown): void {
    this.#lastError = err;
    if (this.#left() <= 0) this.#lost = unrenewed(this.path, err);
  }

  /** Near or past its end another process may hold the lease by now: then delete it only if it is still ours. */
  async #deleteIfOurs(): Promise<void> {
    if (this.#left() <= this.#periodMs()) {
      const current = await this.#d.state.readLease(this.path);
      const v = current?.value;
      if (v === undefined || v.owner !== this.#d.owner || v.fence !== this.#lease.fence) return;
    }
    await this.#d.state.deleteLease(this.path);
  }
}

export function leaseLost(path: string, holder: Lease | undefined): RotatorError {
  const who = holder === undefined ? "" : ` (now held by ${holder.owner}, fence ${holder.fence})`;
  return new RotatorError(
    "ROTATION_LEASE_HELD",
    `this process no longer holds the lease of "${path}"${who}; it stops and changes nothing`,
    { context: { path } },
  );
}

function unrenewed(path: string, cause: unknown): RotatorError {
  const why = cause === undefined ? "" : ` (${classifyError(cause)})`;
  return new RotatorError(
    "ROTATION_LEASE_HELD",
    `this process could not renew the lease of "${path}" in time${why}; it stops and changes nothing, and the next run resumes once the lease has lapsed`,
    { context: { path } },
  );
}
