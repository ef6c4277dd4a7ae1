// Step 2, stage: inspected → staging (the intent, journaled before the POST) → staged (the new pair, journaled
// before anything else happens with it). POST staged is never retried blindly. An active staged set seen while
// the journal says `staging` is taken to be our own POST whose answer was lost (the inspect step proved none
// existed before the intent was written): it is adopted when its secret can be read back, else deleted and
// staged afresh. An uncertain or conflicting POST is answered the same way, by re-reading the staged list; when
// the list shows the uncertain POST did not take effect, the failure is retryable: the next attempt, after the
// backoff, re-reads the list again before it posts (a POST that landed late is adopted then).
import { isRotatorError, RotatorError } from "../../errors.ts";
import type { RotationRun, StepResult } from "../../rotation/engine-deps.ts";
import type { StagedCredential } from "../../rotation/rotation-ports.ts";

/** inspected → staging (a journal written at `inspected`; the inspect step now journals `staging` itself). */
export async function stagingIntentStep(run: RotationRun): Promise<StepResult> {
  await run.advance("staging");
  return undefined;
}

/**
 * staging → staged. The staged list is read first only when a POST of this rotation may already have been sent:
 * when the inspection and the intent were made in this same engine call, the inspection saw no active set and
 * nothing has been posted since, so the list could not show a lost POST of ours.
 */
export async function stageStep(run: RotationRun): Promise<StepResult> {
  const { issuer } = run.deps;
  const target = run.target;
  if (run.seen.inspected !== true) {
    const existing = await adoptOrClear(run);
    if (existing !== undefined) return journalStaged(run, existing);
  }

  await run.guard();
  let created: StagedCredential;
  try {
    created = await issuer.createStaged(target);
  } catch (err) {
    const uncertain = isRotatorError(err) && err.context["uncertain"] === true;
    if (!uncertain && !isRotatorError(err, "SALESFORCE_STAGED_CONFLICT")) throw err;
    // Did our POST happen after all? Look instead of posting again.
    const adopted = await adoptOrClear(run);
    if (adopted !== undefined) return journalStaged(run, adopted);
    if (uncertain) throw notApplied(err, "no staged set exists, so the POST did not take effect");
    throw err;
  }
  if (created.secret === undefined) {
    await run.guard();
    await issuer.deleteStaged(target, created.id);
    throw secretsHidden(run.path);
  }
  return journalStaged(run, created);
}

/**
 * An active staged set now, with the journal at `staging`, is ours: the adoptable one is returned; one whose
 * secret cannot be read is deleted (it was never distributed) so a fresh POST can follow.
 */
async function adoptOrClear(run: RotationRun): Promise<StagedCredential | undefined> {
  const { issuer } = run.deps;
  const active = (await issuer.listStaged(run.target)).find((s) => s.state === "active");
  if (active === undefined) return undefined;
  if (active.secret !== undefined) return active;
  await run.guard();
  await issuer.deleteStaged(run.target, active.id);
  return undefined;
}

async function journalStaged(run: RotationRun, staged: StagedCredential): Promise<StepResult> {
  if (staged.secret === undefined) throw secretsHidden(run.path);
  await run.advance("staged", {
    stagedId: staged.id,
    newClientId: staged.clientId,
    newSecret: staged.secret,
  });
  await run.emit("rotation.staged");
  return undefined;
}

/**
 * An uncertain answer (5xx, timeout, no answer) to a call whose effect a re-read has now ruled out: nothing
 * changed at Salesforce, so trying again later is safe, and the next attempt re-reads before it acts.
 */
export function notApplied(err: RotatorError, finding: string): RotatorError {
  return new RotatorError(err.code, `${err.message}; re-read: ${finding}`, {
    retryable: true,
    context: { ...err.context, uncertain: undefined },
    cause: err,
  });
}

function secretsHidden(path: string): RotatorError {
  return new RotatorError(
    "SALESFORCE_NOT_ENABLED",
    "Salesforce did not return the staged secret; enable REST API access to consumer secrets for the org",
    { context: { path } },
  );
}
