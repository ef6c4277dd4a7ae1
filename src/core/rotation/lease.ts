// Leases make several replicas safe: one owner per credential at a time, an expiry longer than the slowest
// step (renewed while working), and a fencing counter that grows with every change of owner. Every journal
// write carries the fence it was made under; a write whose fence is older than the lease's is refused, so a
// process that was paused past its lease cannot clobber the newer owner's work. The lease itself is a KV
// entry written with check-and-set: of two replicas that decide to claim, only one write succeeds.
// This module is the pure decision; the engine does the CAS read and write.

export interface Lease {
  readonly owner: string;
  readonly expiresAt: Date;
  readonly fence: number;
}

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

/** May a write made under `fence` go ahead, given the lease now in Vault? */
export function isFenceCurrent(lease: Lease | undefined, owner: string, fence: number, now: Date): boolean {
  return lease !== undefined && lease.owner === owner && lease.fence === fence && lease.expiresAt > now;
}

/** Renew at a third of the TTL left, so two missed renewals still leave time before expiry. */
export function renewDelayMs(lease: Lease, now: Date): number {
  return Math.max(0, Math.floor((lease.expiresAt.getTime() - now.getTime()) / 3));
}
