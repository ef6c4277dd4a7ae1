// One engine call working on one credential: the journal record and its version, the lease it holds (renewed in
// the background, lease.ts), and the guarded ways to change anything. Every write (journal, KV, metadata,
// Salesforce mutation) first calls guard(), a local check of the lease's renewals: a process whose lease was
// taken over, or could not be renewed in time, stops with ROTATION_LEASE_HELD and changes nothing. Journal writes
// use cas against the version this run read or wrote, carry the fence, and may only follow the state machine, so
// a stale owner's late journal write fails even when it passed its guard just before a pause.
// Below the run: the outcomes built from it, what every provider's steps share (the cas write of KV data and the
// endings of a rotation), and the one-owner-per-consumer records those steps check.
import { classifyError, type ErrorCode, isRotatorError, RotatorError } from "../errors.ts";
import { parseCredentialPolicy } from "../inventory/credential-policy.ts";
import { computeDeadline } from "../inventory/deadline.ts";
import type { SecretValue } from "../secret-value.ts";
import { formatDuration, systemScheduler } from "../time.ts";
import type { RotationEngineDeps, RotationProvider, RotationRun, StepResult } from "./engine-deps.ts";
import type { JournalChanges, JournalRecord } from "./journal-record.ts";
import { claimLease, LeaseHold, leaseLost } from "./lease.ts";
import type { FailedOutcome, RotationOutcome, SkippedOutcome, WaitKind } from "./rotation-outcome.ts";
import type {
  ConsumerIdentity,
  ConsumerOwner,
  IssuerTarget,
  Lease,
  Notification,
  StoredCredential,
} from "./rotation-ports.ts";
import type { AuditEvent, AuditEventType } from "./rotation-state.ts";
import { canTransition, type RotationMode, type RotationStep } from "./rotation-state.ts";

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

// Outcome values built from a run or from plain facts, and the public face of errors in them: RotatorError
// messages are public by contract; anything else is named, never quoted (its text could hold anything).
export function isRetryable(err: unknown): boolean {
  if (!(err instanceof RotatorError)) return true; // unknown: counted, and capped like any other
  // A cas conflict means "read again and decide again", which the next attempt does.
  return err.retryable || err.code === "VAULT_CAS_CONFLICT";
}

/**
 * Salesforce (or a Marketing Cloud tenant) unavailable, unreachable or rate-limited: an outage that waiting fixes.
 * Retried with backoff for as long as rotation.retry_budget allows, beyond max_attempts, and it never clears an
 * operator's flag.
 */
export function isTransient(err: unknown): boolean {
  return (
    err instanceof RotatorError &&
    err.retryable &&
    (err.code === "SALESFORCE_UNAVAILABLE" || err.code === "SALESFORCE_RATE_LIMITED")
  );
}

/** Public text of an error: RotatorError messages are safe by contract; anything else is named, not quoted. */
export function publicMessage(err: unknown): string {
  if (err instanceof RotatorError) return err.message;
  const name = err instanceof Error ? err.name : typeof err;
  return `unexpected ${name}`;
}

export function errorLine(err: unknown): string {
  return `${classifyError(err)}: ${publicMessage(err)}`;
}

export function failed(run: RotationRun, err: unknown, willRetry: boolean, attempts: number): FailedOutcome {
  return {
    ...providerTag(run.record.provider),
    kind: "failed",
    path: run.path,
    rotationId: run.record.rotationId,
    mode: run.record.mode,
    sinkFailures: run.sinkFailures,
    step: run.record.step,
    code: classifyError(err),
    message: publicMessage(err),
    willRetry,
    attempts,
  };
}

export function parked(run: RotationRun): FailedOutcome {
  const r = run.record;
  return {
    ...providerTag(r.provider),
    kind: "failed",
    path: run.path,
    rotationId: r.rotationId,
    mode: r.mode,
    sinkFailures: run.sinkFailures,
    step: r.failedStep ?? r.step,
    code: r.lastErrorCode ?? "ROTATION_STATE_MISMATCH",
    message: `${r.lastError ?? "failed"}; set rotate=now to resume`,
    willRetry: false,
    attempts: r.attempts,
  };
}

export function refused(
  path: string,
  rotationId: string | undefined,
  mode: RotationMode | undefined,
  step: RotationStep | undefined,
  message: string,
): FailedOutcome {
  return {
    kind: "failed",
    path,
    rotationId,
    mode,
    sinkFailures: 0,
    step,
    code: "ROTATION_ROLLBACK_REFUSED",
    message,
    willRetry: false,
    attempts: 0,
  };
}

export function skipped(
  path: string,
  rotationId: string | undefined,
  mode: RotationMode | undefined,
  reason: string,
  code: ErrorCode | "UNCLASSIFIED" | undefined,
): SkippedOutcome {
  return { kind: "skipped", path, rotationId, mode, sinkFailures: 0, reason, code };
}

export function waiting(
  path: string,
  r: JournalRecord,
  w: { waiting: WaitKind; until: Date; detail?: string | undefined },
  sinkFailures: number,
): RotationOutcome {
  return {
    ...providerTag(r.provider),
    kind: "waiting",
    path,
    rotationId: r.rotationId,
    mode: r.mode,
    sinkFailures,
    step: r.step,
    waiting: w.waiting,
    until: w.until,
    ...(w.detail === undefined ? {} : { detail: w.detail }),
  };
}

/**
 * The provider whose outcomes carry no `provider` (the engine's first, whose outcomes kept their original shape
 * when others were added); an outcome without one is that provider's.
 */
export const UNTAGGED_PROVIDER = "salesforce-eca";

/** `{ provider }` for every provider but UNTAGGED_PROVIDER. */
function providerTag(provider: string): { provider?: string } {
  return provider === UNTAGGED_PROVIDER ? {} : { provider };
}

// What every provider's steps share: the one way a step writes a credential's KV data (read, decide, write with
// cas against the version read; a cas conflict means someone wrote in between: read again and decide again, never
// a blind retry), and the endings every rotation has (the close's metadata stamps, audit, chat and journal
// removal; a rolled-back journal's the same). `decide` throws to refuse (a value someone else wrote), or returns
// undefined when the version read needs no write (our own earlier write whose answer was lost, or a step already
// done).
const CAS_RETRIES = 3;

export type FieldWrite = Readonly<Record<string, string | SecretValue>>;

/** The version that now holds the decision, and the credential as read before it. */
export async function writeWithCas(
  run: RotationRun,
  decide: (cred: StoredCredential) => FieldWrite | undefined,
  /** The credential as the caller has just read it: the first decision uses it instead of a read. */
  first?: StoredCredential,
): Promise<{ version: number; cred: StoredCredential }> {
  for (let i = 0; ; i++) {
    const cred = i === 0 && first !== undefined ? first : await run.readCredential();
    const fields = decide(cred);
    if (fields === undefined) return { version: cred.version, cred };
    await run.guard();
    try {
      const { version } = await run.deps.store.writeFields(run.path, fields, cred.version);
      return { version, cred };
    } catch (err) {
      if (!isRotatorError(err, "VAULT_CAS_CONFLICT") || i + 1 >= CAS_RETRIES) throw err;
    }
  }
}

/**
 * What every provider's close does after its stamps: audit rotation.completed, chat (rotation.emergency in an
 * emergency) with the provider's words, the journal and lease deleted, and the completed outcome.
 */
export async function finishClose(
  run: RotationRun,
  now: Date,
  chatText: string,
  opts: { keyFingerprint?: string | undefined; outageMs?: number | undefined } = {},
): Promise<StepResult> {
  const r = run.record;
  const durationMs = now.getTime() - r.startedAt.getTime();
  const { outageMs } = opts;
  await run.emit("rotation.completed", { kvVersion: r.kvVersionPublished, durationMs, outageMs });
  await run.notify(r.mode === "emergency" ? "rotation.emergency" : "rotation.completed", chatText);
  await run.endJournal();
  const outcome: RotationOutcome = {
    ...providerTag(r.provider),
    kind: "completed",
    path: run.path,
    rotationId: r.rotationId,
    mode: r.mode,
    sinkFailures: run.sinkFailures,
    kvVersion: r.kvVersionPublished,
    keyFingerprint: opts.keyFingerprint,
    durationMs,
    outageMs,
  };
  return { kind: "done", outcome };
}

/**
 * The metadata every provider stamps when a rotation closes: verified and rotated now, the next deadline counted
 * from now with the credential's own period (removed rather than guessed when the metadata became invalid
 * meanwhile), idle, trigger and last error cleared. `expiresAt`: a new expiry to record too.
 */
export async function stampClosed(
  run: RotationRun,
  now: Date,
  opts: { expiresAt?: Date } = {},
): Promise<void> {
  const stamp = now.toISOString();
  const cred = await run.readCredential();
  const parsed = parseCredentialPolicy(cred.customMetadata, run.deps.providers);
  let nextDue: string | null = null;
  if (parsed.kind === "managed") {
    const policy = { ...parsed.policy, lastRotated: now };
    const due = computeDeadline(
      opts.expiresAt === undefined ? policy : { ...policy, expiresAt: opts.expiresAt },
      { createdTime: stamp, currentVersionCreatedTime: stamp },
    );
    if (due.ok) nextDue = due.deadline.toISOString();
  }
  await run.patchMetadata({
    rotation_verified_at: stamp,
    last_rotated: stamp,
    ...(opts.expiresAt === undefined ? {} : { expires_at: opts.expiresAt.toISOString() }),
    next_rotation_due: nextDue,
    rotation_state: "idle",
    ...(await run.flagClearing(false, cred.customMetadata)),
    last_rotation_error: null,
  });
}

/**
 * What every provider's rolled_back journal ends with: metadata failed (with why), audit, chat naming what was
 * restored (`restored(kvVersion)`, undefined when nothing had been published), journal and lease deleted.
 */
export async function finishRollback(
  run: RotationRun,
  restored: (kvVersion: number | undefined) => string,
): Promise<StepResult> {
  const r = run.record;
  const why = r.lastError ?? "rolled back";
  // An emergency rolled back before promotion has not revoked anything: its flag stays, so it is tried again.
  await run.patchMetadata({
    rotation_state: "failed",
    last_rotation_error: why.slice(0, 300),
    ...(await run.flagClearing(r.mode === "emergency")),
  });
  const code = r.lastErrorCode;
  await run.emit("rotation.rolled_back", { errorCode: code, kvVersion: r.kvVersionPublished });
  await run.notify(
    "rotation.rolled_back",
    `Rotation of ${r.path} was rolled back (${why}): ${restored(r.kvVersionPublished)}. Set rotate=now to try again.`,
    code,
  );
  await run.endJournal();
  const outcome: RotationOutcome = {
    ...providerTag(r.provider),
    kind: "rolled_back",
    path: r.path,
    rotationId: r.rotationId,
    mode: r.mode,
    sinkFailures: run.sinkFailures,
    code,
    message: why,
    kvVersion: r.kvVersionPublished,
  };
  return { kind: "done", outcome };
}

/** A state a step cannot go on from (KV or Salesforce not as the journal expects): final, named with its step. */
export function stateMismatch(run: RotationRun, message: string): RotatorError {
  return new RotatorError("ROTATION_STATE_MISMATCH", message, {
    context: { path: run.path, step: run.record.step },
  });
}

// One KV path per external consumer. Whoever can write a path under the prefixes controls its metadata and data,
// so a path could name another team's Salesforce app (or Marketing Cloud package) and have the rotator rotate
// it and publish the new secret to that path. Two rules close that:
//   - proof of possession: before anything is changed, the secret currently in the path's KV must work (a
//     Salesforce login with the pair; a Marketing Cloud token with the client id), so a path can only rotate
//     what it already holds;
//   - one owner: the first path that proves possession of a consumer is recorded as its owner under the state
//     prefix (which only the rotator writes); any other path naming the same consumer is refused with
//     POLICY_CONSUMER_OWNED, even one that somehow holds the secret too. Moving a consumer to another path is
//     the explicit, audited `eca-rotator adopt PATH`, which proves possession again.
// An owner is keyed by what identifies the consumer at its issuer, which each provider says (its consumer
// identity, built with safeSegment / toHex below, under its own name as the first segment).
/** The owner record of one consumer. Never a secret: ids and a KV path. */

/** POLICY_CONSUMER_OWNED when `owner` is another path than `path`. */
export function ownedElsewhere(owner: ConsumerOwner | undefined, path: string): RotatorError | undefined {
  if (owner === undefined || owner.path === path) return undefined;
  return new RotatorError(
    "POLICY_CONSUMER_OWNED",
    `consumer already managed at ${owner.path} (${owner.subject}); a consumer is rotated from one path only. To move it here, run: eca-rotator adopt ${path}`,
    { context: { path, owner: owner.path } },
  );
}

/**
 * Records `path` as the owner of `consumer` when nobody owns it yet (cas 0); a path that already owns it is left
 * alone. Returns true when this call made `path` the owner. Throws POLICY_CONSUMER_OWNED when another path
 * owns it, including one that won a race to create the record. `known`: the owner record as the caller has
 * read it in this engine call (the read is not repeated: the create's cas 0 fails if one was written since).
 */
export async function recordOwner(
  deps: Pick<RotationEngineDeps, "state" | "clock">,
  consumer: ConsumerIdentity,
  path: string,
  guard: () => Promise<void>,
  known?: { readonly owner: ConsumerOwner | undefined },
): Promise<boolean> {
  const found = known === undefined ? (await deps.state.readOwner(consumer.key))?.value : known.owner;
  const refused = ownedElsewhere(found, path);
  if (refused !== undefined) throw refused;
  if (found !== undefined) return false;
  await guard();
  try {
    await deps.state.writeOwner(
      consumer.key,
      { path, since: deps.clock.now(), subject: consumer.subject },
      0,
    );
    return true;
  } catch (err) {
    if (!isRotatorError(err, "VAULT_CAS_CONFLICT")) throw err;
    const winner = await deps.state.readOwner(consumer.key);
    const lost = ownedElsewhere(winner?.value, path);
    if (lost !== undefined) throw lost;
    return false;
  }
}

/**
 * ROTATION_POSSESSION_UNPROVEN: the secret in the path's KV does not work, so the rotator does not touch the
 * consumer. Retryable: a pair created minutes ago may not work yet (a new app takes up to ten minutes to
 * propagate), so later cycles ask again, up to rotation.max_attempts; then the rotation ends, having changed
 * nothing.
 */
export function possessionUnproven(path: string, what: string, refusal: string): RotatorError {
  return new RotatorError(
    "ROTATION_POSSESSION_UNPROVEN",
    `${what} (${refusal}): nothing was changed; the rotator rotates only a consumer whose working secret this path holds. Put the secret that works now into KV, then set rotate=now`,
    { retryable: true, context: { path, refusal } },
  );
}

/** A consumer-key path segment: `s` itself when plainly safe, its hex otherwise. */
export function safeSegment(s: string): string {
  return /^[A-Za-z0-9_.-]{1,128}$/.test(s) && s !== "." && s !== ".." ? s : toHex(s);
}

/** Any text as one safe path segment (hex of its UTF-8). */
export function toHex(s: string): string {
  let out = "";
  for (const b of new TextEncoder().encode(s)) out += b.toString(16).padStart(2, "0");
  return out === "" ? "00" : out;
}
