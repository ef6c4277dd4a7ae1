// One engine call working on one credential: the journal record and its version, the lease it holds (renewed in
// the background, lease.ts), and the guarded ways to change anything. Every write (journal, KV, metadata,
// Salesforce mutation) first calls guard(), a local check of the lease's renewals: a process whose lease was
// taken over, or could not be renewed in time, stops with ROTATION_LEASE_HELD and changes nothing. Journal writes
// use cas against the version this run read or wrote, carry the fence, and may only follow the state machine, so
// a stale owner's late journal write fails even when it passed its guard just before a pause.

import { isRotatorError, RotatorError } from "../errors.ts";
import { formatDuration, systemScheduler } from "../time.ts";
import type { AuditEvent, AuditEventType } from "./audit-events.ts";
import type { RotationEngineDeps, RotationProvider, RotationRun } from "./engine-deps.ts";
import type { JournalChanges, JournalRecord } from "./journal-record.ts";
import { claimLease, LeaseHold, leaseLost } from "./lease.ts";
import { skipped } from "./outcome-builders.ts";
import type { SkippedOutcome } from "./rotation-outcome.ts";
import type { IssuerTarget, Lease, Notification, StoredCredential } from "./rotation-ports.ts";
import { canTransition, type RotationStep } from "./rotation-state.ts";

/** The engine's run: a RotationRun on the journal, the lease and the ports. */
export class JournaledRun implements RotationRun {
  readonly deps: RotationEngineDeps;
  readonly path: string;
  record: JournalRecord;
  journalVersion: number;
  readonly hold: LeaseHold;
  sinkFailures = 0;
  /** Metadata values this run (this engine call) has written. */
  readonly #metadataWritten = new Map<string, string | null>();
  /**
   * What this engine call has seen for itself, so that a later step of the same call need not ask again. A resume
   * (a new engine call) starts without any of it, and its steps read everything afresh.
   * - claimRead: the credential as start() read it to claim; the inspect step uses it once instead of a read.
   * - inspected: the inspect step ran in this call: Salesforce's main key was the old one and no staged set was
   *   active when it read them, and the intent to stage was written by this call (so no earlier POST of this
   *   rotation can exist).
   * - promoted: the promote step ran in this call (the `rotated` record is the one with the journal's staged id).
   */
  readonly seen: {
    claimRead?: StoredCredential | undefined;
    inspected?: boolean | undefined;
    promoted?: boolean | undefined;
  } = {};

  constructor(deps: RotationEngineDeps, record: JournalRecord, journalVersion: number, hold: LeaseHold) {
    this.deps = deps;
    this.path = record.path;
    this.record = record;
    this.journalVersion = journalVersion;
    this.hold = hold;
  }

  /** The lease as last claimed or renewed. */
  get lease(): Lease {
    return this.hold.lease;
  }

  now(): Date {
    return this.deps.clock.now();
  }

  /** The provider named in the journal: its state machine and steps drive this run. */
  get provider(): RotationProvider {
    return this.deps.providers.forJournal(this.record.provider, this.path);
  }

  /** The target the inspect step resolved; a later step without one is a bug. */
  get target(): IssuerTarget {
    const t = this.record.target;
    if (t === undefined) throw invariant(this.record, "no Salesforce target in the journal after inspect");
    return t;
  }

  /** The new pair from the journal (the staged step put it there before anything else used it). */
  get newPair(): { clientId: string; secret: NonNullable<JournalRecord["newSecret"]> } {
    const { newClientId, newSecret } = this.record;
    if (newClientId === undefined || newSecret === undefined) {
      throw invariant(this.record, "no new pair in the journal after staging");
    }
    return { clientId: newClientId, secret: newSecret };
  }

  get oldClientId(): string {
    const id = this.record.oldClientId;
    if (id === undefined) throw invariant(this.record, "no old consumer key in the journal after inspect");
    return id;
  }

  /**
   * Call before every write and every Salesforce mutation: throws ROTATION_LEASE_HELD when this run no longer
   * holds the lease (taken over, or not renewed in time). A local check of the background renewals, no Vault call.
   */
  async guard(): Promise<void> {
    await this.hold.check();
  }

  /** Moves the journal to `step` (an allowed transition), resetting the attempt count and any backoff. */
  async advance(step: RotationStep, changes: JournalChanges = {}): Promise<void> {
    if (!canTransition(this.record.mode, this.record.step, step, this.provider.machine)) {
      throw invariant(this.record, `the journal may not go from ${this.record.step} to ${step}`);
    }
    await this.write({
      ...this.record,
      retryAfter: undefined,
      failingSince: undefined,
      ...changes,
      attempts: 0,
      lastError: changes.lastError,
      lastErrorCode: changes.lastErrorCode,
      step,
    });
  }

  /** Rewrites the journal at its step (attempt counts, a new owner after a takeover). */
  async update(changes: JournalChanges): Promise<void> {
    await this.write({ ...this.record, ...changes });
  }

  /** The one place a journal is written outside the state machine: reviving a failed rotation at its step. */
  async revive(step: RotationStep, changes: JournalChanges = {}): Promise<void> {
    await this.write({
      ...this.record,
      ...changes,
      step,
      failedStep: undefined,
      attempts: 0,
      retryAfter: undefined,
      failingSince: undefined,
      keepTrigger: undefined,
    });
  }

  /**
   * Writes a new rotation's first record with cas 0. Unlike write(), a cas conflict comes back as "exists": a
   * journal is already there (an unfinished rotation), which the caller continues instead.
   */
  async create(): Promise<"created" | "exists"> {
    try {
      await this.write(this.record, true);
      return "created";
    } catch (err) {
      if (isRotatorError(err, "VAULT_CAS_CONFLICT")) return "exists";
      throw err;
    }
  }

  async write(next: JournalRecord, rawConflict = false): Promise<void> {
    await this.guard();
    const record: JournalRecord = {
      ...next,
      fence: this.lease.fence,
      owner: this.deps.owner,
      updatedAt: this.now(),
    };
    try {
      this.journalVersion = await this.deps.state.writeJournal(this.path, record, this.journalVersion);
    } catch (err) {
      // Someone else wrote the journal since we read it: we are the stale one.
      if (isRotatorError(err, "VAULT_CAS_CONFLICT") && !rawConflict) throw leaseLost(this.path, undefined);
      throw err;
    }
    this.record = record;
  }

  async readCredential(): Promise<StoredCredential> {
    const cred = await this.deps.store.read(this.path);
    if (cred === undefined) {
      throw new RotatorError("VAULT_NOT_FOUND", `the credential "${this.path}" is gone from KV`, {
        context: { path: this.path },
      });
    }
    return cred;
  }

  async patchMetadata(patch: Readonly<Record<string, string | null>>): Promise<void> {
    // A step may ask for what this same run wrote moments ago (rotation_state=in_progress again once a soak of
    // 0 is over): that patch would change nothing, and costs two Vault calls.
    const again = Object.entries(patch).every(
      ([k, v]) => this.#metadataWritten.has(k) && this.#metadataWritten.get(k) === v,
    );
    if (again) return;
    await this.guard();
    await this.deps.store.patchMetadata(this.path, patch);
    for (const [k, v] of Object.entries(patch)) this.#metadataWritten.set(k, v);
  }

  /**
   * The metadata patch that clears the operator's flag, or nothing when the flag now in the metadata is not the
   * one this rotation was claimed with: a `rotate` (say rotate=emergency after promotion) or `rotate_reason` set
   * while it ran is a new request and survives, to be acted on next. Read right before the caller's patch;
   * custom_metadata has no cas, so the window is one round trip. `keep`: the rotation did not do what the flag
   * asked (an emergency rolled back before promotion), so the flag stays whatever it holds. `read`: the
   * metadata the caller has just read itself, saving the read.
   */
  async flagClearing(keep = false, read?: Readonly<Record<string, string>>): Promise<Record<string, null>> {
    // keepTrigger: the rotation ended because Salesforce stayed unavailable; what was asked stays asked.
    if (keep || this.record.keepTrigger === true) return {};
    const now = read ?? (await this.deps.store.read(this.path))?.customMetadata ?? {};
    const same =
      (now["rotate"] ?? undefined) === this.record.flag &&
      ((now["rotate_reason"] ?? "").trim() || undefined) === this.record.flagReason;
    return same ? { rotate: null, rotate_reason: null } : {};
  }

  /** The rotation is over (closed or rolled back): delete the journal under the lease, then the lease. */
  async endJournal(): Promise<void> {
    await this.guard();
    await this.deps.state.deleteJournal(this.path);
    await this.hold.remove();
  }

  /**
   * Releases the lease: expired in place while the journal stays (waiting, or a counted failure), so anyone may
   * take over now; deleted (`journalRemains` false) once the journal is gone.
   */
  async releaseLease(journalRemains = true): Promise<void> {
    await this.hold.release(journalRemains);
  }

  fingerprint(): string | undefined {
    const id = this.record.newClientId;
    return id === undefined ? undefined : this.deps.fingerprint(id);
  }

  /** Emits an audit event; a failing sink is counted and reported, never allowed to change the rotation. */
  async emit(type: AuditEventType, extra: Partial<AuditEvent> = {}): Promise<void> {
    const r = this.record;
    const event: AuditEvent = {
      type,
      time: this.now().toISOString(),
      rotationId: r.rotationId,
      path: r.path,
      provider: r.provider,
      mode: r.mode,
      trigger: r.trigger,
      actor: r.actor,
      step: r.step,
      reason: r.reason,
      stagedId: r.stagedId,
      keyFingerprint: this.fingerprint(),
      ...extra,
    };
    try {
      await this.deps.audit.emit(dropUndefined(event));
    } catch (err) {
      this.sinkFailed("audit", err);
    }
  }

  async notify(kind: Notification["kind"], text: string, errorCode?: string): Promise<void> {
    const r = this.record;
    try {
      await this.deps.notifier.notify({
        kind,
        path: this.path,
        rotationId: r.rotationId,
        mode: r.mode,
        provider: r.provider,
        step: r.step,
        ...(errorCode === undefined ? {} : { errorCode }),
        text,
      });
    } catch (err) {
      this.sinkFailed("notify", err);
    }
  }

  sinkFailed(sink: "audit" | "notify", err: unknown): void {
    this.sinkFailures += 1;
    try {
      this.deps.onSinkFailure?.(sink, err);
    } catch {
      // a broken counter must not break the rotation either
    }
  }

  /** For people: "850ms" below a second (an emergency outage against a fast org), else "4m 10s". */
  describeDuration(ms: number): string {
    return ms < 1000 ? `${Math.max(0, Math.round(ms))}ms` : formatDuration(ms);
  }
}

// Callers that build the same refusal (the lease moved to lease.ts with the renewals).
export { leaseLost };

function invariant(record: Pick<JournalRecord, "path" | "step">, message: string): RotatorError {
  return new RotatorError("INTERNAL_INVARIANT", message, {
    context: { path: record.path, step: record.step },
  });
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** Takes (or renews, or takes over when expired) the credential's lease with cas; a lost race is "held". */
export type Claim = { ok: true; hold: LeaseHold } | { ok: false; outcome: SkippedOutcome };

/**
 * Claims the lease and starts renewing it. `fresh`: the caller expects no lease (a new rotation; the last one
 * deleted its lease), so it creates one with cas 0 straight away and reads only when that fails.
 */
export async function claimFor(
  deps: RotationEngineDeps,
  path: string,
  opts: { fresh?: boolean } = {},
): Promise<Claim> {
  const ttlMs = deps.settings.leaseTtlMs;
  const held = (lease: Lease, version: number): Claim => ({
    ok: true,
    hold: new LeaseHold(
      {
        state: deps.state,
        clock: deps.clock,
        scheduler: deps.scheduler ?? systemScheduler,
        owner: deps.owner,
        ttlMs,
      },
      path,
      lease,
      version,
    ),
  });
  const raced = (): Claim => {
    const reason = "another process claimed the lease at the same moment";
    return { ok: false, outcome: skipped(path, undefined, undefined, reason, "ROTATION_LEASE_HELD") };
  };
  if (opts.fresh === true) {
    const lease = claimLease(undefined, deps.owner, deps.clock.now(), ttlMs);
    if (lease.ok) {
      try {
        return held(lease.lease, await deps.state.writeLease(path, lease.lease, 0));
      } catch (err) {
        if (!isRotatorError(err, "VAULT_CAS_CONFLICT")) throw err;
      }
    }
  }
  const current = await deps.state.readLease(path);
  const claim = claimLease(current?.value, deps.owner, deps.clock.now(), ttlMs);
  if (!claim.ok) {
    const reason = `another process (${claim.heldBy}) holds the lease until ${claim.until.toISOString()}`;
    return { ok: false, outcome: skipped(path, undefined, undefined, reason, "ROTATION_LEASE_HELD") };
  }
  try {
    return held(claim.lease, await deps.state.writeLease(path, claim.lease, current?.version ?? 0));
  } catch (err) {
    if (!isRotatorError(err, "VAULT_CAS_CONFLICT")) throw err;
    return raced();
  }
}
