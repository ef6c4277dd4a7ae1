// The rotation engine (rotation-protocol.md): pure core, everything through the ports. One call works on one
// credential and returns an explicit outcome; it throws only INTERNAL_INVARIANT (a bug).
//
//   start(path, opts)   claim the lease, journal `claimed`, run; an unfinished journal is resumed instead
//                       (a failed one is revived only by an operator's trigger, never by the schedule)
//   resume(path)        continue an unfinished journal after a crash, a soak or a takeover (also "advance")
//   rollback(path)      before promotion: delete the staged set, make the old pair current again
//   plan(path, opts)    --dry-run: reads only, returns the steps and the preflight checks
//
// The engine holds a lease only while it runs steps. Whenever it returns with the journal still there (waiting
// for the soak, or after a counted failure) it expires the lease in place, so any replica can carry on and
// gets a higher fence; the journal is deleted only when the rotation is closed or rolled back.
//
// Failures: a retryable error counts an attempt in the journal and returns failed{willRetry}. At max_attempts,
// or at once for a non-retryable error: a standard rotation before promotion is rolled back automatically;
// one that has not staged anything is abandoned; anything else is parked as `failed` (the journal keeps the new
// pair) until an operator's rotate=now revives it. Each ends with rotation_state=failed, last_rotation_error,
// the trigger cleared, one audit event and one notification.
import { classifyError, isRotatorError, RotatorError } from "../errors.ts";
import { parseCredentialPolicy } from "../inventory/credential-policy.ts";
import type { RotationTrigger } from "./audit-events.ts";
import { CLIENT_ID, keyField } from "./credential-fields.ts";
import type { RotationEngineDeps } from "./engine-deps.ts";
import type { JournalRecord } from "./journal-record.ts";
import { claimLease, type Lease } from "./lease.ts";
import type { FailedOutcome, RotationOutcome, SkippedOutcome } from "./rotation-outcome.ts";
import { planRotation, type RotationPlan } from "./rotation-plan.ts";
import { RotationRun, type RotationRun as Run, releaseLease } from "./rotation-run.ts";
import { canTransition, isPastPromotion, type RotationMode, type RotationStep } from "./rotation-state.ts";
import { ENGINE_PROVIDER } from "./steps/inspect-step.ts";
import { codeOf } from "./steps/rollback-steps.ts";
import { stepFunction } from "./steps/step-table.ts";

export interface StartOptions {
  readonly mode: RotationMode;
  readonly trigger: RotationTrigger;
  /** "scheduler", "operator-flag", "cli", "http:<token name>"; never a token. */
  readonly actor: string;
  /** rotate_reason; a flag trigger without one takes the metadata's. */
  readonly reason?: string | undefined;
  /** Skip unless the KV version is still the one the decision was made on (the scheduler passes it). */
  readonly expectKvVersion?: number | undefined;
}

export interface RollbackOptions {
  readonly actor: string;
  readonly reason?: string | undefined;
}

export interface RotationEngine {
  start(path: string, opts: StartOptions): Promise<RotationOutcome>;
  resume(path: string): Promise<RotationOutcome>;
  rollback(path: string, opts: RollbackOptions): Promise<RotationOutcome>;
  plan(path: string, opts: { readonly mode: RotationMode }): Promise<RotationPlan>;
}

// Steps can loop only by moving the journal forward; more iterations than states means a bug.
const MAX_STEPS_PER_CALL = 40;

export function createRotationEngine(deps: RotationEngineDeps): RotationEngine {
  const { settings } = deps;
  if (!(settings.maxAttempts >= 1) || !(settings.leaseTtlMs > settings.verifyTimeoutMs)) {
    throw new RotatorError(
      "CONFIG_INVALID",
      "the rotation lease must outlive verify_timeout, and max_attempts must be at least 1",
    );
  }
  return {
    start: (path, opts) => contained(path, () => start(deps, path, opts)),
    resume: (path) => contained(path, () => resume(deps, path)),
    rollback: (path, opts) => contained(path, () => rollback(deps, path, opts)),
    plan: (path, opts) => planRotation(deps, path, opts.mode),
  };
}

async function start(deps: RotationEngineDeps, path: string, opts: StartOptions): Promise<RotationOutcome> {
  const claim = await claimFor(deps, path);
  if (!claim.ok) return claim.outcome;
  const lease = claim.lease;
  let prepared: { kind: "run"; run: Run; existing: boolean } | { kind: "skip"; outcome: SkippedOutcome };
  try {
    prepared = await prepareStart(deps, path, opts, lease);
  } catch (err) {
    await releaseLease(deps, path, lease, true);
    throw err;
  }
  if (prepared.kind === "skip") {
    await releaseLease(deps, path, lease, false);
    return prepared.outcome;
  }
  const run = prepared.run;
  if (prepared.existing) return continueExisting(run, opts);
  try {
    await run.write(run.record);
  } catch (err) {
    await releaseLease(deps, path, lease, false);
    return unrecorded(run, err);
  }
  try {
    await run.patchMetadata({ rotation_state: "in_progress" });
    await run.emit("rotation.started");
  } catch (err) {
    return onError(run, err);
  }
  return drive(run);
}

/** Under the lease: the existing journal, or a new `claimed` record (not yet written), or why not to start. */
async function prepareStart(
  deps: RotationEngineDeps,
  path: string,
  opts: StartOptions,
  lease: Lease,
): Promise<{ kind: "run"; run: Run; existing: boolean } | { kind: "skip"; outcome: SkippedOutcome }> {
  const found = await deps.state.readJournal(path);
  if (found !== undefined) {
    return { kind: "run", run: new RotationRun(deps, found.value, found.version, lease), existing: true };
  }
  const skip = (reason: string, code?: RotatorError["code"]) => ({
    kind: "skip" as const,
    outcome: skipped(path, undefined, undefined, reason, code),
  });
  const cred = await deps.store.read(path);
  if (cred === undefined) return skip("the credential is not in KV", "VAULT_NOT_FOUND");
  const policy = parseCredentialPolicy(cred.customMetadata);
  if (policy.kind === "unmanaged") return skip("unmanaged: no provider in the metadata", "VAULT_NOT_MANAGED");
  if (policy.kind === "invalid") return skip(`invalid metadata: ${policy.reason}`, "POLICY_INVALID");
  if (policy.policy.provider !== ENGINE_PROVIDER) {
    return skip(`provider ${policy.policy.provider} is not rotated by this engine`, "POLICY_INVALID");
  }
  if (opts.expectKvVersion !== undefined && cred.version !== opts.expectKvVersion) {
    return skip(`the credential changed since the decision (now version ${cred.version}): decide again`);
  }
  if (opts.trigger === "flag" && policy.policy.trigger === undefined) {
    return skip("the rotate flag is already cleared: the request was handled");
  }
  const now = deps.clock.now();
  const record: JournalRecord = {
    rotationId: deps.ids(),
    path,
    provider: ENGINE_PROVIDER,
    mode: opts.mode,
    trigger: opts.trigger,
    actor: opts.actor,
    reason: opts.reason ?? (opts.trigger === "flag" ? policy.policy.trigger?.reason : undefined),
    step: "claimed",
    fence: lease.fence,
    owner: deps.owner,
    attempts: 0,
    startedAt: now,
    updatedAt: now,
    kvVersionRead: cred.version,
    kvVersionPublished: undefined,
    target: undefined,
    oldClientId: keyField(cred, CLIENT_ID),
    stagedId: undefined,
    newClientId: undefined,
    newSecret: undefined,
    promoteAfter: undefined,
    promotedAt: undefined,
    lastError: undefined,
  };
  return { kind: "run", run: new RotationRun(deps, record, 0, lease), existing: false };
}

/** start() found a journal: carry on with it rather than start a second rotation. */
async function continueExisting(run: Run, opts: StartOptions): Promise<RotationOutcome> {
  const r = run.record;
  try {
    if (r.step === "failed") {
      if (opts.trigger === "schedule") {
        await run.releaseLease();
        return parked(run);
      }
      if (r.failedStep === undefined) {
        throw new RotatorError(
          "ROTATION_JOURNAL_CORRUPT",
          "a failed journal that does not say where it failed",
          {
            context: { path: run.path },
          },
        );
      }
      // An operator asked again: the rotation goes on from where it failed, with fresh attempts.
      await run.revive(r.failedStep);
      await run.patchMetadata({ rotation_state: "in_progress" });
    } else if (opts.mode === "emergency" && r.mode === "standard" && r.step === "published") {
      // An emergency flag on a soaking rotation ends the soak: promote now.
      await run.update({ promoteAfter: run.now() });
    } else {
      await run.update({});
    }
    await run.emit("rotation.resumed");
  } catch (err) {
    return onError(run, err);
  }
  return drive(run);
}

async function resume(deps: RotationEngineDeps, path: string): Promise<RotationOutcome> {
  // Read first, without the lease: a parked or soaking rotation costs no write.
  const peek = await deps.state.readJournal(path);
  if (peek === undefined) return skipped(path, undefined, undefined, "no unfinished rotation", undefined);
  const early = waitingFor(peek.value, deps);
  if (peek.value.step === "failed") {
    return skipped(
      path,
      peek.value.rotationId,
      peek.value.mode,
      `failed at ${peek.value.failedStep ?? "?"} (${peek.value.lastError ?? "no error recorded"}): set rotate=now to resume`,
      codeOf(peek.value.lastError),
    );
  }
  if (early !== undefined) return waiting(path, peek.value, early, 0);

  const claim = await claimFor(deps, path);
  if (!claim.ok) return claim.outcome;
  const found = await deps.state.readJournal(path);
  if (found === undefined) {
    await releaseLease(deps, path, claim.lease, false);
    return skipped(
      path,
      peek.value.rotationId,
      peek.value.mode,
      "the rotation finished meanwhile",
      undefined,
    );
  }
  const run = new RotationRun(deps, found.value, found.version, claim.lease);
  if (run.record.step === "failed") {
    await run.releaseLease();
    return parked(run);
  }
  try {
    await run.update({}); // the journal now carries our fence: the previous owner's late writes fail
    await run.emit("rotation.resumed");
  } catch (err) {
    return onError(run, err);
  }
  return drive(run);
}

async function rollback(
  deps: RotationEngineDeps,
  path: string,
  opts: RollbackOptions,
): Promise<RotationOutcome> {
  const claim = await claimFor(deps, path);
  if (!claim.ok) return claim.outcome;
  const found = await deps.state.readJournal(path);
  if (found === undefined) {
    await releaseLease(deps, path, claim.lease, false);
    return refused(path, undefined, undefined, undefined, "there is no rotation under way to roll back");
  }
  const run = new RotationRun(deps, found.value, found.version, claim.lease);
  const r = run.record;
  const at = r.step === "failed" ? r.failedStep : r.step;
  const why = `rolled back by ${opts.actor}${opts.reason ? `: ${opts.reason}` : ""}`;
  const allowed =
    at !== undefined &&
    (at === "rolling_back" || at === "rolled_back" || canTransition(r.mode, at, "rolling_back"));
  if (!allowed || at === undefined) {
    await run.releaseLease();
    const message =
      r.mode === "emergency"
        ? "an emergency rotation revokes first and is never rolled back; let it finish"
        : at !== undefined && isPastPromotion(r.mode, at)
          ? "Salesforce has promoted the new pair: there is no way back; let the rotation finish"
          : "nothing has been staged yet; the rotation can only go on or fail";
    return refused(path, r.rotationId, r.mode, at, message);
  }
  try {
    if (r.step === "failed") await run.revive(at);
    if (at !== "rolling_back" && at !== "rolled_back") await run.advance("rolling_back", { lastError: why });
  } catch (err) {
    return onError(run, err);
  }
  return drive(run);
}

/** Runs steps until the rotation is done, must wait, or fails. */
async function drive(run: Run): Promise<RotationOutcome> {
  for (let i = 0; i < MAX_STEPS_PER_CALL; i++) {
    const r = run.record;
    if (r.step === "failed") return parked(run);
    const fn = stepFunction(r.mode, r.step);
    if (fn === undefined) {
      throw new RotatorError("INTERNAL_INVARIANT", `no step leads out of ${r.step}`, {
        context: { path: run.path },
      });
    }
    let result: Awaited<ReturnType<typeof fn>>;
    try {
      result = await fn(run);
    } catch (err) {
      return onError(run, err);
    }
    if (result?.kind === "done") return result.outcome;
    if (result?.kind === "wait") {
      await run.releaseLease();
      return waiting(run.path, run.record, result, run.sinkFailures);
    }
  }
  throw new RotatorError("INTERNAL_INVARIANT", "the rotation made no progress", {
    context: { path: run.path },
  });
}

async function onError(run: Run, err: unknown): Promise<RotationOutcome> {
  if (isRotatorError(err, "INTERNAL_INVARIANT")) throw err;
  if (isRotatorError(err, "ROTATION_LEASE_HELD")) {
    return skipped(run.path, run.record.rotationId, run.record.mode, err.message, err.code);
  }
  const line = errorLine(err);
  const attempts = run.record.attempts + 1;
  if (isRetryable(err) && attempts < run.deps.settings.maxAttempts) {
    try {
      await run.update({ attempts, lastError: line });
    } catch (writeErr) {
      return unrecorded(run, writeErr, err);
    }
    await run.releaseLease();
    return failed(run, err, true, attempts);
  }
  try {
    return await failForGood(run, err, line, attempts);
  } catch (writeErr) {
    return unrecorded(run, writeErr, err);
  }
}

async function failForGood(run: Run, err: unknown, line: string, attempts: number): Promise<RotationOutcome> {
  const r = run.record;
  const step = r.step;
  if (step === "rolled_back") {
    // Only the finishing touches failed (metadata, journal delete): the journal stays and a resume finishes.
    await run.releaseLease();
    return failed(run, err, true, attempts);
  }
  if (canTransition(r.mode, step, "rolling_back")) {
    await run.advance("rolling_back", { lastError: line });
    return drive(run);
  }
  const abandon = step === "claimed" || step === "inspected";
  if (!abandon) await run.advance("failed", { failedStep: step, lastError: line, attempts });
  await run.patchMetadata({
    rotation_state: "failed",
    last_rotation_error: line.slice(0, 300),
    rotate: null,
    rotate_reason: null,
  });
  await run.emit("rotation.failed", { step, errorCode: classifyError(err) });
  const next = abandon
    ? "Nothing was changed at Salesforce or in KV."
    : isPastPromotion(r.mode, step)
      ? "Salesforce already uses the new pair, which the journal keeps; fix the cause and set rotate=now to resume."
      : "The journal keeps the staged pair; fix the cause and set rotate=now to resume.";
  await run.notify(
    "rotation.failed",
    `Rotation of ${r.path} (${r.mode}) failed at ${step}: ${line}. ${next}`,
  );
  if (abandon) {
    await run.guard();
    await run.deps.state.deleteJournal(run.path);
    await releaseLease(run.deps, run.path, run.lease, false);
  } else {
    await run.releaseLease();
  }
  return { ...failed(run, err, false, attempts), step };
}

/** The failure could not even be recorded (Vault down, or we lost the lease while recording it). */
function unrecorded(run: Run, writeErr: unknown, cause: unknown = writeErr): RotationOutcome {
  if (isRotatorError(writeErr, "INTERNAL_INVARIANT")) throw writeErr;
  if (isRotatorError(writeErr, "ROTATION_LEASE_HELD")) {
    return skipped(run.path, run.record.rotationId, run.record.mode, writeErr.message, writeErr.code);
  }
  return failed(run, cause, true, run.record.attempts);
}

/** Wraps a public call: anything but INTERNAL_INVARIANT that escapes becomes a failed outcome. */
async function contained(path: string, body: () => Promise<RotationOutcome>): Promise<RotationOutcome> {
  try {
    return await body();
  } catch (err) {
    if (isRotatorError(err, "INTERNAL_INVARIANT")) throw err;
    return {
      kind: "failed",
      path,
      rotationId: undefined,
      mode: undefined,
      sinkFailures: 0,
      step: undefined,
      code: classifyError(err),
      message: publicMessage(err),
      willRetry: isRetryable(err),
      attempts: 0,
    };
  }
}

type Claim = { ok: true; lease: Lease } | { ok: false; outcome: SkippedOutcome };

async function claimFor(deps: RotationEngineDeps, path: string): Promise<Claim> {
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

/** A wait that needs no lease to report: the soak or retire_after still running. */
function waitingFor(
  r: JournalRecord,
  deps: RotationEngineDeps,
): { waiting: "soak" | "retire"; until: Date } | undefined {
  const now = deps.clock.now();
  if (r.mode !== "standard") return undefined;
  if (r.step === "published" && r.promoteAfter !== undefined && now < r.promoteAfter) {
    return { waiting: "soak", until: r.promoteAfter };
  }
  const retireAfter = deps.settings.retireAfterMs ?? 0;
  if (r.step === "verified_main" && retireAfter > 0 && r.promotedAt !== undefined) {
    const until = new Date(r.promotedAt.getTime() + retireAfter);
    if (now < until) return { waiting: "retire", until };
  }
  return undefined;
}

function isRetryable(err: unknown): boolean {
  if (!(err instanceof RotatorError)) return true; // unknown: counted, and capped like any other
  // A cas conflict means "read again and decide again", which the next attempt does.
  return err.retryable || err.code === "VAULT_CAS_CONFLICT";
}

/** Public text of an error: RotatorError messages are safe by contract; anything else is named, not quoted. */
function publicMessage(err: unknown): string {
  if (err instanceof RotatorError) return err.message;
  const name = err instanceof Error ? err.name : typeof err;
  return `unexpected ${name}`;
}

function errorLine(err: unknown): string {
  return `${classifyError(err)}: ${publicMessage(err)}`;
}

function failed(run: Run, err: unknown, willRetry: boolean, attempts: number): FailedOutcome {
  return {
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

function parked(run: Run): FailedOutcome {
  const r = run.record;
  return {
    kind: "failed",
    path: run.path,
    rotationId: r.rotationId,
    mode: r.mode,
    sinkFailures: run.sinkFailures,
    step: r.failedStep ?? r.step,
    code: codeOf(r.lastError) ?? "ROTATION_STATE_MISMATCH",
    message: `${r.lastError ?? "failed"}; set rotate=now to resume`,
    willRetry: false,
    attempts: r.attempts,
  };
}

function refused(
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

function skipped(
  path: string,
  rotationId: string | undefined,
  mode: RotationMode | undefined,
  reason: string,
  code: RotatorError["code"] | undefined,
): SkippedOutcome {
  return { kind: "skipped", path, rotationId, mode, sinkFailures: 0, reason, code };
}

function waiting(
  path: string,
  r: JournalRecord,
  w: { waiting: "soak" | "retire"; until: Date },
  sinkFailures: number,
): RotationOutcome {
  return {
    kind: "waiting",
    path,
    rotationId: r.rotationId,
    mode: r.mode,
    sinkFailures,
    step: r.step,
    waiting: w.waiting,
    until: w.until,
  };
}
