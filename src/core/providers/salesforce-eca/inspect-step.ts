// Step 1, inspect (claimed → staging: its findings with the intent to stage), and the read-only checks that --dry-run shows as its preflight.
// Before anything is changed at Salesforce: the credential's policy chooses a configured connection this path
// may use; the rotator is not rotating the ECA it logs in with (POLICY_SELF_ROTATION); KV's current client_id
// is the key Salesforce treats as main (else publishing would put an unknown pair in previous_*); no staged set
// exists that this rotation did not make (a person may be mid-rotation, and a new POST would destroy their
// set); no other path owns the consumer (POLICY_CONSUMER_OWNED); and the pair in KV logs in
// (ROTATION_POSSESSION_UNPROVEN otherwise): a path can only rotate an app whose working pair it holds.
// The first path to pass all of that is recorded as the consumer's owner (rotation-run.ts).
import { RotatorError } from "../../errors.ts";
import {
  type CredentialPolicy,
  chooseDestination,
  type Destination,
  type Destinations,
  type MetadataField,
  patternMetadataField,
} from "../../inventory/credential-policy.ts";
import { CONFIG_NAME } from "../../inventory/policy-fields.ts";
import type { RotationEngineDeps, RotationRun, StepResult } from "../../rotation/engine-deps.ts";
import { API_KEY, CLIENT_ID, keyField, managedPolicy, secretField } from "../../rotation/engine-deps.ts";
import type {
  ConsumerIdentity,
  ConsumerOwner,
  IssuerTarget,
  ResolvedTarget,
  StagedCredential,
  StoredCredential,
} from "../../rotation/rotation-ports.ts";
import { ownedElsewhere, possessionUnproven, recordOwner, safeSegment } from "../../rotation/rotation-run.ts";
import type { SecretValue } from "../../secret-value.ts";
import { outageOf } from "./stage-to-retire-steps.ts";

const ENGINE_PROVIDER = "salesforce-eca";

// Salesforce ids are 15 (case-sensitive) or 18 (case-safe) alphanumerics.
const ECA_APP_ID = /^0xI[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$/;
const ECA_CONSUMER_ID = /^888[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$/;
// Developer names: a letter, then letters, digits and underscores; an optional `namespace__` prefix.
const ECA_APP_NAME = /^(?:[A-Za-z][A-Za-z0-9_]{0,14}__)?[A-Za-z][A-Za-z0-9_]{0,79}$/;

/** The metadata keys of provider=salesforce-eca: the connection its secrets go to and the app to rotate. */
export const ECA_METADATA_FIELDS: Readonly<Record<string, MetadataField>> = {
  sf_connection: patternMetadataField(
    "sfConnection",
    CONFIG_NAME,
    "a connection name from the config (letters, digits, _ . -)",
  ),
  eca_app_id: patternMetadataField("ecaAppId", ECA_APP_ID, "a 15- or 18-character ECA id starting 0xI"),
  eca_app_name: patternMetadataField(
    "ecaAppName",
    ECA_APP_NAME,
    "a Salesforce developer name (letters, digits, underscores)",
  ),
  eca_consumer_id: patternMetadataField(
    "ecaConsumerId",
    ECA_CONSUMER_ID,
    "a 15- or 18-character OAuth consumer id starting 888",
  ),
};

/** A policy with the salesforce-eca keys (ECA_METADATA_FIELDS) as the parser filled them in. */
export type EcaPolicy = CredentialPolicy & {
  readonly sfConnection?: string | undefined;
  readonly ecaAppId?: string | undefined;
  readonly ecaAppName?: string | undefined;
  readonly ecaConsumerId?: string | undefined;
};

/** Why a salesforce-eca entry is invalid although each key parsed: it must name the app. */
export function ecaMetadataProblem(policy: EcaPolicy): string | undefined {
  return policy.ecaAppId === undefined && policy.ecaAppName === undefined
    ? "salesforce-eca needs eca_app_id or eca_app_name"
    : undefined;
}

/** The scan's judgement of sf_connection, once connections are configured. */
export function ecaDestinationProblem(
  policy: EcaPolicy,
  path: string,
  destinations: Destinations,
): string | undefined {
  if (destinations.connections.length === 0) return undefined;
  const choice = chooseDestination(destinations, "connection", policy.sfConnection, path);
  return choice.ok ? undefined : choice.why;
}

export interface Inspection {
  readonly policy: CredentialPolicy;
  readonly destination: Destination;
  readonly target: IssuerTarget;
  readonly mainKey: string;
  readonly ownClientId: string;
  readonly kvClientId: string | undefined;
  readonly kvHasSecret: boolean;
  readonly staged: readonly StagedCredential[];
  readonly consumer: ConsumerIdentity;
  /** The consumer's recorded owner; undefined before any path proved possession of it. */
  readonly owner: ConsumerOwner | undefined;
}

/** The credential's policy, when this engine may rotate it; POLICY_INVALID (final) otherwise. */
function rotatablePolicy(cred: StoredCredential, path: string, deps: RotationEngineDeps): EcaPolicy {
  const policy: EcaPolicy = managedPolicy(cred, path, deps.providers);
  if (policy.provider !== ENGINE_PROVIDER) {
    throw new RotatorError(
      "POLICY_INVALID",
      `provider ${policy.provider} is not rotated by the ${ENGINE_PROVIDER} engine`,
      { context: { path } },
    );
  }
  return policy;
}

/**
 * The consumer's owner key: the org, app and consumer ids (org, not connection: two connections may reach one
 * org).
 */
function ecaConsumer(orgId: string, target: IssuerTarget): ConsumerIdentity {
  return {
    key: `${ENGINE_PROVIDER}/${safeSegment(orgId)}/${safeSegment(target.appId)}/${safeSegment(target.consumerId)}`,
    subject: `Salesforce org ${orgId}, app ${target.appId}, consumer ${target.consumerId}`,
  };
}

/** The configured connection this path's metadata chooses; POLICY_INVALID (final) when none may be used. */
export function connectionOf(policy: EcaPolicy, deps: RotationEngineDeps, path: string): Destination {
  const choice = chooseDestination(deps.settings.destinations, "connection", policy.sfConnection, path);
  if (!choice.ok) throw new RotatorError("POLICY_INVALID", choice.why, { context: { path } });
  return choice.destination;
}

/** Reads only: what Salesforce, KV and the owner records say about the credential now. */
export async function inspectCredential(
  deps: RotationEngineDeps,
  path: string,
  cred: StoredCredential,
  knownTarget?: IssuerTarget,
): Promise<Inspection> {
  const policy = rotatablePolicy(cred, path, deps);
  const destination = connectionOf(policy, deps, path);
  const connection = destination.name;
  // A first inspection resolves the consumer from Salesforce's consumer list, which shows its main key; a resumed
  // one has the journaled target and reads the main key. Only the ids go on into the journal.
  const { mainKey: listedKey, ...target }: ResolvedTarget =
    knownTarget ??
    (await deps.issuer.resolveTarget({
      connection,
      appId: policy.ecaAppId,
      appName: policy.ecaAppName,
      consumerId: policy.ecaConsumerId,
    }));
  const ownClientId = await deps.issuer.ownClientId(connection);
  const mainKey = listedKey ?? (await deps.issuer.readMainKey(target));
  const staged = await deps.issuer.listStaged(target);
  const consumer = ecaConsumer(await deps.issuer.orgId(connection), target);
  const owner = (await deps.state.readOwner(consumer.key))?.value;
  return {
    policy,
    destination,
    target,
    mainKey,
    ownClientId,
    kvClientId: keyField(cred, CLIENT_ID),
    kvHasSecret: secretField(cred, API_KEY) !== undefined,
    staged,
    consumer,
    owner,
  };
}

/**
 * One login with the pair in KV: the path must hold the consumer's working pair before anything changes.
 * A refusal (invalid_client_id / invalid_client) is ROTATION_POSSESSION_UNPROVEN; no answer, a rate limit or
 * an odd refusal is SALESFORCE_AUTH_FAILED. Both are counted attempts (the next cycle asks again), so a pair
 * still propagating gets its chance and a pair that never works ends the rotation with nothing changed.
 */
export async function provePossession(
  deps: RotationEngineDeps,
  path: string,
  connection: string,
  cred: StoredCredential,
): Promise<void> {
  const clientId = keyField(cred, CLIENT_ID);
  const secret: SecretValue | undefined = secretField(cred, API_KEY);
  if (clientId === undefined || secret === undefined) {
    throw new RotatorError("ROTATION_STATE_MISMATCH", "KV has no client_id/api_key pair to rotate", {
      context: { path },
    });
  }
  // No polling: the pair in KV has been the main pair for a while, so there is no propagation to wait for.
  const result = await deps.issuer.verifyPair(connection, clientId, secret, 0);
  if (result.ok) return;
  const answer = result.code ?? "no answer";
  if (answer === "invalid_client_id" || answer === "invalid_client") {
    throw possessionUnproven(path, "the client_id/api_key pair in KV does not log in at Salesforce", answer);
  }
  throw new RotatorError(
    outageOf(result.code) ?? "SALESFORCE_AUTH_FAILED",
    `could not check that the pair in KV logs in (last answer: ${answer}); nothing was changed, the next attempt asks again`,
    { retryable: true, context: { path } },
  );
}

/** Every reason not to start, in the order they matter; empty when the rotation may go ahead. */
export function inspectionProblems(i: Inspection, path: string): RotatorError[] {
  const problems: RotatorError[] = [];
  const context = { path };
  if (i.ownClientId === i.mainKey || i.ownClientId === i.kvClientId) {
    problems.push(
      new RotatorError(
        "POLICY_SELF_ROTATION",
        "refusing to rotate the External Client App the rotator itself logs in with; give the rotator its own admin ECA",
        { context },
      ),
    );
  }
  if (i.kvClientId === undefined || !i.kvHasSecret) {
    problems.push(
      new RotatorError("ROTATION_STATE_MISMATCH", "KV has no client_id/api_key pair to rotate", { context }),
    );
  } else if (i.kvClientId !== i.mainKey) {
    problems.push(
      new RotatorError(
        "ROTATION_STATE_MISMATCH",
        "KV client_id is not the consumer key Salesforce treats as main; put the current pair in KV first",
        { context },
      ),
    );
  }
  const owned = ownedElsewhere(i.owner, path);
  if (owned !== undefined) problems.push(owned);
  if (i.staged.some((s) => s.state === "active")) {
    problems.push(
      new RotatorError(
        "SALESFORCE_STAGED_CONFLICT",
        "Salesforce has an active staged set this rotation did not make (a person may be mid-rotation); finish or delete it in Setup",
        { context },
      ),
    );
  }
  return problems;
}

/**
 * claimed → staging: the findings are journaled together with the intent to stage (the stage step's POST comes
 * next; a crash before this write repeats the inspection, which only reads and records the owner idempotently).
 * The credential as start() read it to claim serves once; a resumed inspection reads it again.
 */
export async function inspectStep(run: RotationRun): Promise<StepResult> {
  const claimRead = run.seen.claimRead;
  run.seen.claimRead = undefined;
  const cred = claimRead ?? (await run.readCredential());
  const inspection = await inspectCredential(run.deps, run.path, cred, run.record.target);
  const problem = inspectionProblems(inspection, run.path)[0];
  if (problem !== undefined) throw problem;
  await provePossession(run.deps, run.path, inspection.target.connection, cred);
  const recorded = await recordOwner(run.deps, inspection.consumer, run.path, () => run.guard(), {
    owner: inspection.owner,
  });
  // Told as soon as the owner record is written: a later failure in this step does not write it again.
  if (recorded) await run.emit("consumer.owned", { subject: inspection.consumer.subject, step: "inspected" });
  await run.advance("staging", {
    target: inspection.target,
    oldClientId: inspection.mainKey,
    kvVersionRead: cred.version,
    destination: inspection.destination.name,
    destinationOrigin: inspection.destination.origin,
  });
  run.seen.inspected = true;
  return undefined;
}
