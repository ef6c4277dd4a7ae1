// Step 1, inspect (claimed → inspected), and the read-only checks that --dry-run shows as its preflight.
// Before anything is changed at Salesforce: the credential's policy names a consumer; the rotator is not
// rotating the ECA it logs in with (POLICY_SELF_ROTATION); KV's current client_id is the key Salesforce treats
// as main (else publishing would put an unknown pair in previous_*); and no staged set exists that this
// rotation did not make (a person may be mid-rotation, and a new POST would destroy their set).
import { RotatorError } from "../../errors.ts";
import type { CredentialPolicy } from "../../inventory/credential-policy.ts";
import { API_KEY, CLIENT_ID, keyField, secretField } from "../credential-fields.ts";
import type { RotationEngineDeps } from "../engine-deps.ts";
import { managedPolicy } from "../managed-policy.ts";
import type { IssuerTarget, StagedCredential, StoredCredential } from "../rotation-ports.ts";
import type { RotationRun } from "../rotation-run.ts";
import type { StepResult } from "./step-result.ts";

export const ENGINE_PROVIDER = "salesforce-eca";

export interface Inspection {
  readonly policy: CredentialPolicy;
  readonly target: IssuerTarget;
  readonly mainKey: string;
  readonly ownClientId: string;
  readonly kvClientId: string | undefined;
  readonly kvHasSecret: boolean;
  readonly staged: readonly StagedCredential[];
}

/** The credential's policy, when this engine may rotate it; POLICY_INVALID (final) otherwise. */
export function rotatablePolicy(cred: StoredCredential, path: string): CredentialPolicy {
  const policy = managedPolicy(cred, path);
  if (policy.provider !== ENGINE_PROVIDER) {
    throw new RotatorError(
      "POLICY_INVALID",
      `provider ${policy.provider} is not rotated by the ${ENGINE_PROVIDER} engine`,
      { context: { path } },
    );
  }
  return policy;
}

export function connectionOf(policy: CredentialPolicy, deps: RotationEngineDeps, path: string): string {
  const connection = policy.sfConnection ?? deps.settings.defaultConnection;
  if (connection === undefined) {
    throw new RotatorError(
      "POLICY_INVALID",
      "no sf_connection in the metadata and several connections configured",
      {
        context: { path },
      },
    );
  }
  return connection;
}

/** Reads only: what Salesforce and KV say about the credential now. */
export async function inspectCredential(
  deps: RotationEngineDeps,
  path: string,
  cred: StoredCredential,
  knownTarget?: IssuerTarget,
): Promise<Inspection> {
  const policy = rotatablePolicy(cred, path);
  const connection = connectionOf(policy, deps, path);
  const target =
    knownTarget ??
    (await deps.issuer.resolveTarget({
      connection,
      appId: policy.ecaAppId,
      appName: policy.ecaAppName,
      consumerId: policy.ecaConsumerId,
    }));
  const ownClientId = await deps.issuer.ownClientId(connection);
  const mainKey = await deps.issuer.readMainKey(target);
  const staged = await deps.issuer.listStaged(target);
  return {
    policy,
    target,
    mainKey,
    ownClientId,
    kvClientId: keyField(cred, CLIENT_ID),
    kvHasSecret: secretField(cred, API_KEY) !== undefined,
    staged,
  };
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

/** claimed → inspected. */
export async function inspectStep(run: RotationRun): Promise<StepResult> {
  const cred = await run.readCredential();
  const inspection = await inspectCredential(run.deps, run.path, cred, run.record.target);
  const problem = inspectionProblems(inspection, run.path)[0];
  if (problem !== undefined) throw problem;
  await run.advance("inspected", {
    target: inspection.target,
    oldClientId: inspection.mainKey,
    kvVersionRead: cred.version,
  });
  return undefined;
}
