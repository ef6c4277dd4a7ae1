// The providers the engine rotates, by the `provider` metadata key (and the journal's `provider` field).
// manual is tracked (deadlines, report, chat) but not rotated by the engine: it is not here. sfmc is rotated
// only on an operator's flag (assisted: startsOnSchedule=false).

import { RotatorError } from "../errors.ts";
import type { CredentialPolicy } from "../inventory/credential-policy.ts";
import { notRotatedMessage } from "../manual/manual-actions.ts";
import type { RotationEngineDeps } from "../rotation/engine-deps.ts";
import { managedPolicy } from "../rotation/managed-policy.ts";
import type { StoredCredential } from "../rotation/rotation-ports.ts";
import type { RotationProvider } from "../rotation/rotation-provider.ts";
import { generatedProvider } from "./generated/generated-provider.ts";
import { salesforceEcaProvider } from "./salesforce-eca/salesforce-eca-provider.ts";
import { sfmcProvider } from "./sfmc/sfmc-provider.ts";

const PROVIDERS: ReadonlyMap<string, RotationProvider> = new Map(
  [salesforceEcaProvider, generatedProvider, sfmcProvider].map((p) => [p.name, p]),
);

/** The provider that rotates credentials of this `provider` value; undefined when the engine does not. */
export function rotationProvider(name: string | undefined): RotationProvider | undefined {
  return name === undefined ? undefined : PROVIDERS.get(name);
}

export function isRotatedByEngine(name: string | undefined): boolean {
  return rotationProvider(name) !== undefined;
}

/** The journal's provider; a journal naming one the engine does not know is corrupt, never guessed at. */
export function journalProvider(name: string, path: string): RotationProvider {
  const p = PROVIDERS.get(name);
  if (p === undefined) {
    throw new RotatorError(
      "ROTATION_JOURNAL_CORRUPT",
      `the journal names provider "${name}", which the engine does not rotate`,
      {
        context: { path },
      },
    );
  }
  return p;
}

/** The credential's policy and provider, when the engine may rotate it; why not otherwise (a final error). */
export function rotatableCredential(
  cred: StoredCredential,
  path: string,
  deps: RotationEngineDeps,
): { policy: CredentialPolicy; provider: RotationProvider } {
  const policy = managedPolicy(cred, path);
  const provider = rotationProvider(policy.provider);
  if (provider === undefined) {
    throw new RotatorError("POLICY_INVALID", notRotatedMessage(policy.provider), { context: { path } });
  }
  provider.checkPolicy(policy, path, deps);
  return { policy, provider };
}
