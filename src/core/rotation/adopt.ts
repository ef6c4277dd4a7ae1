// `eca-rotator adopt PATH`: moves the ownership of an external consumer (a Salesforce app consumer, a Marketing
// Cloud package) to PATH, e.g. after a credential moved to a new path. It is the only way a consumer changes
// owner, and it asks as much as a first rotation does: PATH's metadata chooses a configured destination it may
// use, and the secret in PATH's KV works (proof of possession). It runs under PATH's lease, refuses while a
// rotation of PATH or of the consumer's current owner is unfinished, writes the owner record with cas and
// leaves a consumer.adopted audit event naming both paths.
import { isRotatorError, RotatorError } from "../errors.ts";
import type { RotationEngineDeps } from "./engine-deps.ts";
import { claimFor } from "./rotation-run.ts";
import type { RotationTrigger } from "./rotation-state.ts";

export interface AdoptOptions {
  /** "cli"; never a token. */
  readonly actor: string;
  readonly trigger: RotationTrigger;
  readonly reason?: string | undefined;
}

export type AdoptOutcome =
  | {
      readonly kind: "adopted";
      readonly path: string;
      readonly subject: string;
      /** The path that owned the consumer before; undefined when none had yet. */
      readonly previousOwner: string | undefined;
    }
  | { readonly kind: "unchanged"; readonly path: string; readonly subject: string }
  | { readonly kind: "refused"; readonly path: string; readonly code: string; readonly message: string };

export async function adoptConsumer(
  deps: RotationEngineDeps,
  path: string,
  opts: AdoptOptions,
): Promise<AdoptOutcome> {
  const claim = await claimFor(deps, path);
  if (!claim.ok) {
    return { kind: "refused", path, code: "ROTATION_LEASE_HELD", message: claim.outcome.reason };
  }
  try {
    return await adoptUnderLease(deps, path, opts);
  } catch (err) {
    if (!isRotatorError(err) || err.code === "INTERNAL_INVARIANT") throw err;
    return { kind: "refused", path, code: err.code, message: err.message };
  } finally {
    await claim.hold.release(false);
  }
}

async function adoptUnderLease(
  deps: RotationEngineDeps,
  path: string,
  opts: AdoptOptions,
): Promise<AdoptOutcome> {
  if ((await deps.state.readJournal(path)) !== undefined) {
    throw new RotatorError(
      "ROTATION_STATE_MISMATCH",
      "a rotation of this path is unfinished; let it finish (or roll it back) before adopting",
      { context: { path } },
    );
  }
  const cred = await deps.store.read(path);
  if (cred === undefined) {
    throw new RotatorError("VAULT_NOT_FOUND", "the credential is not in KV", { context: { path } });
  }
  const { policy, provider } = deps.providers.rotatable(cred, path, deps);
  if (provider.consumerOf === undefined) {
    throw new RotatorError(
      "POLICY_INVALID",
      `provider ${provider.name} has no external consumer to own: nothing to adopt`,
      { context: { path } },
    );
  }
  const { consumer, prove } = await provider.consumerOf(deps, path, cred, policy);
  const found = await deps.state.readOwner(consumer.key);
  const previous = found?.value.path;
  if (previous === path) return { kind: "unchanged", path, subject: consumer.subject };
  if (previous !== undefined && (await deps.state.readJournal(previous)) !== undefined) {
    throw new RotatorError(
      "ROTATION_STATE_MISMATCH",
      `a rotation of this consumer is unfinished at ${previous}; let it finish (or roll it back) before adopting`,
      { context: { path, owner: previous } },
    );
  }
  await prove();
  const now = deps.clock.now();
  // cas against the version read: another adoption or first owner in between makes this one fail, not win.
  await deps.state.writeOwner(
    consumer.key,
    { path, since: now, subject: consumer.subject, adoptedFrom: previous },
    found?.version ?? 0,
  );
  try {
    await deps.audit.emit({
      type: "consumer.adopted",
      time: now.toISOString(),
      rotationId: deps.ids(),
      path,
      provider: provider.name,
      mode: "standard",
      trigger: opts.trigger,
      actor: opts.actor,
      step: "closed",
      ...(opts.reason === undefined ? {} : { reason: opts.reason }),
      subject: consumer.subject,
      ...(previous === undefined ? {} : { previousOwner: previous }),
    });
  } catch (err) {
    deps.onSinkFailure?.("audit", err);
  }
  return { kind: "adopted", path, subject: consumer.subject, previousOwner: previous };
}
