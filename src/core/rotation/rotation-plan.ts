// --dry-run: what a rotation of this credential would do, and the preflight checks it would run first. Reads
// only (journal, lease, the KV entry, Salesforce's main key and staged list, the rotator's own key); never
// claims a lease, never writes anything anywhere.
import { classifyError, isRotatorError } from "../errors.ts";
import type { PlanCheck, RotationEngineDeps, RotationProvider } from "./engine-deps.ts";
import { type RotationMode, type RotationStep, stepOrder } from "./rotation-state.ts";

export interface RotationPlan {
  readonly path: string;
  readonly mode: RotationMode;
  /** True when every check passed: a real run would start (or resume) now. */
  readonly wouldRotate: boolean;
  /** An unfinished rotation this run would resume instead of starting a new one. */
  readonly resumesFrom: RotationStep | undefined;
  /** The steps that would run, in order. */
  readonly steps: readonly RotationStep[];
  /** The soak between publishing and promoting (0 in emergency mode). */
  readonly soakMs: number;
  /** The wait in the provider's words (what ends it); undefined when the credential could not be read. */
  readonly waitText: string | undefined;
  readonly checks: readonly PlanCheck[];
}

export async function planRotation(
  deps: RotationEngineDeps,
  path: string,
  mode: RotationMode,
): Promise<RotationPlan> {
  const checks: PlanCheck[] = [];
  const add = (name: PlanCheck["name"], ok: boolean, detail: string) => checks.push({ name, ok, detail });
  const problem = (err: unknown) =>
    `${classifyError(err)}: ${isRotatorError(err) ? err.message : "unexpected error"}`;
  let effectiveMode = mode;
  let resumesFrom: RotationStep | undefined;
  let soakMs = mode === "emergency" ? 0 : deps.settings.soakMs;
  let waitText: string | undefined;
  let provider: RotationProvider | undefined;

  try {
    const journal = await deps.state.readJournal(path);
    if (journal === undefined) add("journal", true, "no rotation under way");
    else {
      const r = journal.value;
      effectiveMode = r.mode;
      provider = deps.providers.get(r.provider);
      resumesFrom = r.step === "failed" ? r.failedStep : r.step;
      add(
        "journal",
        r.step !== "failed",
        r.step === "failed"
          ? `rotation ${r.rotationId} failed at ${r.failedStep ?? "?"} (${r.lastError ?? "?"}); rotate=now resumes it`
          : `rotation ${r.rotationId} (${r.mode}) is at ${r.step}; it would be resumed, not started again`,
      );
    }
  } catch (err) {
    add("journal", false, problem(err));
  }

  try {
    const lease = await deps.state.readLease(path);
    const now = deps.clock.now();
    if (lease === undefined || lease.value.expiresAt <= now || lease.value.owner === deps.owner) {
      add("lease", true, "free");
    } else {
      add("lease", false, `held by ${lease.value.owner} until ${lease.value.expiresAt.toISOString()}`);
    }
  } catch (err) {
    add("lease", false, problem(err));
  }

  try {
    const cred = await deps.store.read(path);
    if (cred === undefined) add("credential", false, "not in KV");
    else {
      add("credential", true, `KV version ${cred.version}`);
      const rotatable = deps.providers.rotatable(cred, path, deps);
      provider ??= rotatable.provider;
      const wait = rotatable.provider.planWait(rotatable.policy, effectiveMode, deps);
      soakMs = wait.soakMs;
      waitText = wait.text;
      add("policy", true, `provider ${rotatable.policy.provider}`);
      if (resumesFrom === undefined) await rotatable.provider.planChecks(deps, path, cred, add);
    }
  } catch (err) {
    add(checks.some((c) => c.name === "policy") ? "salesforce" : "policy", false, problem(err));
  }

  const order = stepOrder(effectiveMode, provider?.machine);
  const from = resumesFrom === undefined ? 0 : Math.max(0, order.indexOf(resumesFrom) + 1);
  return {
    path,
    mode: effectiveMode,
    wouldRotate: checks.every((c) => c.ok),
    resumesFrom,
    steps: resumesFrom === undefined ? order : order.slice(from),
    soakMs,
    waitText,
    checks,
  };
}
