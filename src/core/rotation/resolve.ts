// `eca-rotator resolve PATH`: the way out of a parked rotation (journal step `failed`) that can never succeed:
// the staged set vanished during the soak, KV was edited under it, the old pair cannot be proven dead, and so on.
// It guesses nothing. Under the credential's lease it asks Salesforce which consumer key is main now, takes that
// pair's secret from what the rotator holds (KV's current version, the journal's new pair, KV's previous_*),
// proves the pair logs in, and makes KV's current version name it with previous_* cleared. Then it deletes what
// the rotation left at Salesforce (its staged set when that never became main; after a promotion, the `rotated`
// record, which may keep the old pair alive), stamps rotation_state=failed with why (the rotation did not finish:
// no automatic rotation until an operator sets rotate=now), audits rotation.resolved, tells chat, and deletes the
// journal and the lease. Every step can be repeated: a resolve that died half-way is run again.
// A rotation that is running or waiting is refused: let it finish, or roll it back.
import { type ErrorCode, isRotatorError, RotatorError } from "../errors.ts";
import type { SecretValue } from "../secret-value.ts";
import type { RotationEngineDeps, RotationRun } from "./engine-deps.ts";
import {
  API_KEY,
  CLIENT_ID,
  keyField,
  PREVIOUS_CLIENT_ID,
  PREVIOUS_KEY,
  secretField,
} from "./engine-deps.ts";
import type { JournalRecord } from "./journal-record.ts";
import type { IssuerTarget, StoredCredential } from "./rotation-ports.ts";
import { claimFor, JournaledRun, writeWithCas } from "./rotation-run.ts";
import type { RotationTrigger } from "./rotation-state.ts";

export interface ResolveOptions {
  /** "cli"; never a token. */
  readonly actor: string;
  readonly trigger: RotationTrigger;
  readonly reason?: string | undefined;
}

/** What a person needs to see of the journal before it goes: ids, steps and public error text, never a secret. */
export type JournalSummary = Pick<
  JournalRecord,
  | "rotationId"
  | "provider"
  | "mode"
  | "trigger"
  | "actor"
  | "reason"
  | "step"
  | "failedStep"
  | "lastError"
  | "attempts"
  | "startedAt"
  | "updatedAt"
>;

/** Which pair Salesforce treats as main: the rotation's new one, its old one, or one the rotation never saw. */
type MainPairOrigin = "new" | "old" | "other";

export type ResolveOutcome =
  | {
      readonly kind: "resolved";
      readonly path: string;
      readonly journal: JournalSummary;
      readonly main: MainPairOrigin;
      /** Keyed fingerprint of the main consumer key KV now names. */
      readonly keyFingerprint: string;
      /** The KV version written; undefined when KV already named the main pair with previous_* empty. */
      readonly kvVersion: number | undefined;
      /** Staged records deleted at Salesforce (the rotation's unused set, or the `rotated` record). */
      readonly stagedDeleted: number;
      readonly sinkFailures: number;
    }
  | {
      readonly kind: "refused";
      readonly path: string;
      /** Undefined when there was no journal to show. */
      readonly journal: JournalSummary | undefined;
      readonly code: ErrorCode;
      readonly message: string;
    };

export async function resolveParked(
  deps: RotationEngineDeps,
  path: string,
  opts: ResolveOptions,
): Promise<ResolveOutcome> {
  const claim = await claimFor(deps, path);
  if (!claim.ok) {
    return refusal(
      path,
      undefined,
      "ROTATION_LEASE_HELD",
      `${claim.outcome.reason}: a rotation is running; let it finish`,
    );
  }
  let journal: JournalSummary | undefined;
  let ended = false;
  let journalSeen = false;
  try {
    const found = await deps.state.readJournal(path);
    journalSeen = found !== undefined;
    if (found === undefined)
      return refusal(path, undefined, "ROTATION_RESOLVE_REFUSED", await nothingParked(deps, path));
    const run = new JournaledRun(deps, found.value, found.version, claim.hold);
    journal = summarize(found.value);
    const refused = whyNotResolvable(run);
    if (refused !== undefined) return refusal(path, journal, "ROTATION_RESOLVE_REFUSED", refused);
    const outcome = await resolveUnderLease(run, journal, opts);
    ended = true;
    return outcome;
  } catch (err) {
    if (!isRotatorError(err) || err.code === "INTERNAL_INVARIANT") throw err;
    return refusal(path, journal, err.code, err.message);
  } finally {
    // A refusal leaves the journal where it was: the lease expires in place so anyone may act next (and goes
    // when there is no journal, as the engine's leases do).
    if (!ended) await claim.hold.release(journalSeen);
    claim.hold.stop();
  }
}

async function resolveUnderLease(
  run: RotationRun,
  journal: JournalSummary,
  opts: ResolveOptions,
): Promise<ResolveOutcome> {
  const { deps } = run;
  const r = run.record;
  const target = r.target;
  if (target === undefined) {
    throw new RotatorError(
      "ROTATION_STATE_MISMATCH",
      "the journal names no Salesforce consumer, so resolve cannot ask which pair is main; check the credential by hand",
      { context: { path: run.path } },
    );
  }
  checkPinnedDestination(run, target);
  const mainKey = await deps.issuer.readMainKey(target);
  const main: MainPairOrigin =
    mainKey === r.newClientId ? "new" : mainKey === r.oldClientId ? "old" : "other";
  const first = pairFor(mainKey, await run.readCredential(), r);
  if (first === undefined) {
    throw new RotatorError(
      "ROTATION_STATE_MISMATCH",
      `Salesforce's main consumer key (fingerprint ${deps.fingerprint(mainKey)}) is ${describeMain(main)}, and neither KV (client_id, previous_client_id) nor the journal holds its secret: write the working pair into KV by hand (client_id and api_key), then run resolve again`,
      { context: { path: run.path } },
    );
  }
  // Never make KV name a pair that does not log in: the pair in KV must always work. One attempt, no polling (as
  // the proof of possession): a main pair is past propagation, and an operator waits for the answer.
  await run.guard();
  const login = await deps.issuer.verifyPair(target.connection, mainKey, first.secret, 0);
  if (!login.ok) {
    throw new RotatorError(
      "ROTATION_VERIFY_FAILED",
      `Salesforce's main pair (${describeMain(main)}) does not log in (${login.code ?? "refused"}); nothing was changed: run resolve again once it does`,
      { retryable: true, context: { path: run.path } },
    );
  }

  const written = await writeWithCas(run, (cred) => {
    const now = pairFor(mainKey, cred, r);
    if (now === undefined || now.secret.reveal() !== first.secret.reveal()) {
      throw new RotatorError(
        "ROTATION_STATE_MISMATCH",
        "KV changed while resolve was checking the main pair; nothing was written: run resolve again",
        { context: { path: run.path } },
      );
    }
    const previousEmpty =
      keyField(cred, PREVIOUS_CLIENT_ID) === undefined && secretField(cred, PREVIOUS_KEY) === undefined;
    if (now.source === "current" && previousEmpty) return undefined;
    return { [CLIENT_ID]: mainKey, [API_KEY]: now.secret, [PREVIOUS_CLIENT_ID]: "", [PREVIOUS_KEY]: "" };
  });
  const kvVersion = written.version === written.cred.version ? undefined : written.version;

  // What the rotation left at Salesforce, never the main pair: its staged set (unused unless promoted; parked at
  // `staging` with no id, an active set is its POST whose answer was lost, as the stage step reasons) and, once
  // it was promoted, the `rotated` record, which may keep the old pair alive whatever key it shows.
  const lostPost = r.failedStep === "staging" && r.stagedId === undefined;
  const leftovers = (await deps.issuer.listStaged(target)).filter(
    (s) =>
      (s.id === r.stagedId ||
        (lostPost && s.state === "active") ||
        (main === "new" && s.state === "rotated")) &&
      !(s.state === "active" && s.clientId === mainKey),
  );
  for (const s of leftovers) {
    await run.guard();
    await deps.issuer.deleteStaged(target, s.id);
  }

  const by = `${opts.actor}${opts.reason ? `: ${opts.reason}` : ""}`;
  const where = `parked at ${r.failedStep ?? r.step}${r.lastError ? ` (${r.lastError})` : ""}`;
  await run.patchMetadata({
    rotation_state: "failed",
    last_rotation_error:
      `resolved by ${by}; the rotation ${r.rotationId}, ${where}, did not finish. KV names Salesforce's main pair (${describeMain(main)}); set rotate=now to rotate again`.slice(
        0,
        300,
      ),
    rotate: null,
    rotate_reason: null,
  });
  const keyFingerprint = deps.fingerprint(mainKey);
  await run.emit("rotation.resolved", {
    step: r.failedStep ?? r.step,
    trigger: opts.trigger,
    actor: opts.actor,
    reason: opts.reason,
    errorCode: r.lastErrorCode,
    kvVersion: written.version,
    keyFingerprint,
  });
  const deleted =
    leftovers.length === 0
      ? ""
      : ` The staged record${leftovers.length === 1 ? "" : "s"} it left at Salesforce ${leftovers.length === 1 ? "was" : "were"} deleted.`;
  await run.notify(
    "rotation.action_needed",
    `Rotation ${r.rotationId} of ${r.path} (${r.mode}), ${where}, was resolved by ${by}: KV version ${written.version} names Salesforce's main pair (${describeMain(main)}, key fingerprint ${keyFingerprint}).${deleted} The rotation did not finish: consumers must use the pair in KV; set rotate=now to rotate again.`,
  );
  await run.endJournal();
  return {
    kind: "resolved",
    path: run.path,
    journal,
    main,
    keyFingerprint,
    kvVersion,
    stagedDeleted: leftovers.length,
    sinkFailures: run.sinkFailures,
  };
}

/** Why this journal is not resolve's to end, or undefined when it is. */
function whyNotResolvable(run: RotationRun): string | undefined {
  const r = run.record;
  if (r.step !== "failed") {
    return `the rotation is not parked (it is at ${r.step}: running, waiting for its soak, or counting attempts); let it finish, or roll it back (eca-rotator rollback ${r.path}) before promotion`;
  }
  if (run.provider.resolvesParked !== true) {
    const which = run.deps.providers.rotators.filter((p) => p.resolvesParked === true).map((p) => p.name);
    return `resolve ends parked ${which.join(", ")} rotations; this one is provider ${r.provider}: set rotate=now to resume it, or roll it back (eca-rotator rollback ${r.path})`;
  }
  return undefined;
}

/** The refusal text when there is no journal, naming a metadata state no journal explains. */
async function nothingParked(deps: RotationEngineDeps, path: string): Promise<string> {
  const cred = await deps.store.read(path);
  const state = cred?.customMetadata["rotation_state"];
  if (state === "in_progress" || state === "awaiting_promotion") {
    return (
      `there is no rotation journal for ${path} under this rotator's state_prefix, yet rotation_state is ${state}: ` +
      "another deployment (another state_prefix, or a run --once with its own config) may be rotating it; resolve it there. " +
      "If nothing is, clear the state by hand (vault kv metadata patch -custom-metadata=rotation_state=failed on the entry)"
    );
  }
  return `there is no rotation journal for ${path}: nothing is parked`;
}

/** The secret for Salesforce's main key among what the rotator holds, or undefined when it holds none. */
function pairFor(
  mainKey: string,
  cred: StoredCredential,
  r: JournalRecord,
): { secret: SecretValue; source: "current" | "journal" | "previous" } | undefined {
  const current = secretField(cred, API_KEY);
  if (keyField(cred, CLIENT_ID) === mainKey && current !== undefined)
    return { secret: current, source: "current" };
  if (r.newClientId === mainKey && r.newSecret !== undefined)
    return { secret: r.newSecret, source: "journal" };
  const previous = secretField(cred, PREVIOUS_KEY);
  if (keyField(cred, PREVIOUS_CLIENT_ID) === mainKey && previous !== undefined) {
    return { secret: previous, source: "previous" };
  }
  return undefined;
}

function describeMain(main: MainPairOrigin): string {
  return main === "new"
    ? "the rotation's new pair"
    : main === "old"
      ? "the pair from before the rotation"
      : "a pair this rotation did not make or start from";
}

/**
 * The destination pinned when the rotation started must still be configured with the same origin: a secret from
 * the journal is never sent to a host the configuration moved to since (the engine checks the same before
 * every step).
 */
function checkPinnedDestination(run: RotationRun, target: IssuerTarget): void {
  const { destination, destinationOrigin } = run.record;
  if (destination === undefined || destinationOrigin === undefined) return;
  const { connections } = run.deps.settings.destinations;
  if (connections.some((d) => d.name === destination && d.origin === destinationOrigin)) return;
  throw new RotatorError(
    "ROTATION_STATE_MISMATCH",
    `the configuration no longer sends ${target.connection}'s secrets to ${destinationOrigin}, where this rotation started; nothing is sent elsewhere. Restore that setting, then run resolve again`,
    { context: { path: run.path } },
  );
}

function summarize(r: JournalRecord): JournalSummary {
  const { rotationId, provider, mode, trigger, actor, reason, step, failedStep, lastError, attempts } = r;
  return {
    rotationId,
    provider,
    mode,
    trigger,
    actor,
    reason,
    step,
    failedStep,
    lastError,
    attempts,
    startedAt: r.startedAt,
    updatedAt: r.updatedAt,
  };
}

function refusal(
  path: string,
  journal: JournalSummary | undefined,
  code: ErrorCode,
  message: string,
): ResolveOutcome {
  return { kind: "refused", path, journal, code, message };
}
