// One engine call working on one credential: the journal record and its version, the lease it holds, and the
// guarded ways to change anything. Every write (journal, lease, KV, metadata, Salesforce mutation) first
// re-reads the lease and checks the fence: a process that was paused past its lease stops with
// ROTATION_LEASE_HELD and changes nothing. Journal writes use cas against the version this run read or wrote,
// carry the fence, and may only follow the state machine.
import { formatDuration } from "../duration.ts";
import { isRotatorError, RotatorError } from "../errors.ts";
import { journalProvider } from "../providers/provider-registry.ts";
import type { AuditEvent, AuditEventType } from "./audit-events.ts";
import type { RotationEngineDeps } from "./engine-deps.ts";
import type { JournalRecord } from "./journal-record.ts";
import { claimLease, isFenceCurrent, type Lease } from "./lease.ts";
import { skipped } from "./outcome-builders.ts";
import type { SkippedOutcome } from "./rotation-outcome.ts";
import type { IssuerTarget, Notification, StoredCredential } from "./rotation-ports.ts";
import type { RotationProvider } from "./rotation-provider.ts";
import { canTransition, type RotationStep } from "./rotation-state.ts";

/** Journal fields a step may change; the run fills in fence, owner, updatedAt and attempts. */
export type JournalChanges = Partial<
  Omit<JournalRecord, "rotationId" | "path" | "fence" | "owner" | "updatedAt" | "step">
>;

export class RotationRun {
  readonly deps: RotationEngineDeps;
  readonly path: string;
  record: JournalRecord;
  journalVersion: number;
  lease: Lease;
  sinkFailures = 0;

  constructor(deps: RotationEngineDeps, record: JournalRecord, journalVersion: number, lease: Lease) {
    this.deps = deps;
    this.path = record.path;
    this.record = record;
    this.journalVersion = journalVersion;
    this.lease = lease;
  }

  now(): Date {
    return this.deps.clock.now();
  }

  /** The provider named in the journal: its state machine and steps drive this run. */
  get provider(): RotationProvider {
    return journalProvider(this.record.provider, this.path);
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
   * Checks that this run still owns the credential, and renews the lease once a third of it is used (or
   * always with `renew`, before a call that may take up to verify_timeout).
   */
  async guard(opts: { renew?: boolean } = {}): Promise<void> {
    const { state, owner, settings } = this.deps;
    const now = this.now();
    const current = await state.readLease(this.path);
    if (current === undefined || !isFenceCurrent(current.value, owner, this.lease.fence, now)) {
      throw leaseLost(this.path, current?.value);
    }
    const left = current.value.expiresAt.getTime() - now.getTime();
    if (opts.renew !== true && left >= (settings.leaseTtlMs * 2) / 3) return;
    const renewed = claimLease(current.value, owner, now, settings.leaseTtlMs);
    if (!renewed.ok) throw leaseLost(this.path, current.value);
    try {
      await state.writeLease(this.path, renewed.lease, current.version);
    } catch (err) {
      if (isRotatorError(err, "VAULT_CAS_CONFLICT")) throw leaseLost(this.path, current.value);
      throw err;
    }
    this.lease = renewed.lease;
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

  async write(next: JournalRecord): Promise<void> {
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
      if (isRotatorError(err, "VAULT_CAS_CONFLICT")) throw leaseLost(this.path, undefined);
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
    await this.guard();
    await this.deps.store.patchMetadata(this.path, patch);
  }

  /**
   * The metadata patch that clears the operator's flag, or nothing when the flag now in the metadata is not the
   * one this rotation was claimed with: a `rotate` (say rotate=emergency after promotion) or `rotate_reason` set
   * while it ran is a new request and survives, to be acted on next. Read right before the caller's patch;
   * custom_metadata has no cas, so the window is one round trip. `keep`: the rotation did not do what the flag
   * asked (an emergency rolled back before promotion), so the flag stays whatever it holds.
   */
  async flagClearing(keep = false): Promise<Record<string, null>> {
    // keepTrigger: the rotation ended because Salesforce stayed unavailable; what was asked stays asked.
    if (keep || this.record.keepTrigger === true) return {};
    const cred = await this.deps.store.read(this.path);
    const now = cred?.customMetadata ?? {};
    const same =
      (now["rotate"] ?? undefined) === this.record.flag &&
      ((now["rotate_reason"] ?? "").trim() || undefined) === this.record.flagReason;
    return same ? { rotate: null, rotate_reason: null } : {};
  }

  /** The rotation is over (closed or rolled back): delete the journal, then the lease, each still under it. */
  async endJournal(): Promise<void> {
    await this.guard();
    await this.deps.state.deleteJournal(this.path);
    await this.guard();
    await this.deps.state.deleteLease(this.path);
  }

  /** Releases the lease while the journal stays (waiting, or a counted failure): anyone may take over now. */
  async releaseLease(): Promise<void> {
    await releaseLease(this.deps, this.path, this.lease, true);
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

  async notify(kind: Notification["kind"], text: string): Promise<void> {
    try {
      await this.deps.notifier.notify({ kind, path: this.path, rotationId: this.record.rotationId, text });
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

/**
 * Gives the lease up: expired in place (fence kept, so the next claim gets a higher one) while a journal
 * remains, deleted when the credential has no rotation any more. Best effort: an expiring lease frees itself.
 */
export async function releaseLease(
  deps: RotationEngineDeps,
  path: string,
  lease: Lease,
  journalRemains: boolean,
): Promise<void> {
  try {
    const current = await deps.state.readLease(path);
    if (current === undefined) return;
    if (current.value.owner !== deps.owner || current.value.fence !== lease.fence) return;
    if (journalRemains) {
      await deps.state.writeLease(path, { ...current.value, expiresAt: deps.clock.now() }, current.version);
    } else {
      await deps.state.deleteLease(path);
    }
  } catch {
    // The lease expires on its own; releasing early only lets another replica start sooner.
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

export function invariant(record: Pick<JournalRecord, "path" | "step">, message: string): RotatorError {
  return new RotatorError("INTERNAL_INVARIANT", message, {
    context: { path: record.path, step: record.step },
  });
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** Takes (or renews, or takes over when expired) the credential's lease with cas; a lost race is "held". */
export type Claim = { ok: true; lease: Lease } | { ok: false; outcome: SkippedOutcome };

export async function claimFor(deps: RotationEngineDeps, path: string): Promise<Claim> {
  const current = await deps.state.readLease(path);
  const now = deps.clock.now();
  const claim = claimLease(current?.value, deps.owner, now, deps.settings.leaseTtlMs);
  if (!claim.ok) {
    const reason = `another process (${claim.heldBy}) holds the lease until ${claim.until.toISOString()}`;
    return { ok: false, outcome: skipped(path, undefined, undefined, reason, "ROTATION_LEASE_HELD") };
  }
  try {
    await deps.state.writeLease(path, claim.lease, current?.version ?? 0);
  } catch (err) {
    if (!isRotatorError(err, "VAULT_CAS_CONFLICT")) throw err;
    const reason = "another process claimed the lease at the same moment";
    return { ok: false, outcome: skipped(path, undefined, undefined, reason, "ROTATION_LEASE_HELD") };
  }
  return { ok: true, lease: claim.lease };
}
