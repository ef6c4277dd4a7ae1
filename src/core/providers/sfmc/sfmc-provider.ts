// provider=sfmc: Marketing Cloud installed packages, assisted rotation. Marketing Cloud has no API to stage or
// activate a secret (salesforce-api.md 4.3), so an operator stages one in Setup and pastes it into
// `pending_api_key`; the engine verifies, publishes and later proves the old secret dead (sfmc-steps.ts). The
// schedule never starts one: deadlines (expires_at, the 180-day TTL) only remind, through the scan's warnings.
import { formatDuration } from "../../duration.ts";
import { isOperatorRequest } from "../../rotation/audit-events.ts";
import { API_KEY, secretField } from "../../rotation/credential-fields.ts";
import type { RotationProvider } from "../../rotation/rotation-provider.ts";
import type { RotationStep, StepMachine } from "../../rotation/rotation-state.ts";
import type { StepFunction } from "../../rotation/steps/step-result.ts";
import { PENDING_API_KEY, pendingSecret, sfmcAuthUrl } from "./sfmc-fields.ts";
import {
  closeSfmcStep,
  proveOldDeadStep,
  publishStep,
  SFMC_RECHECK_MS,
  verifyPendingStep,
} from "./sfmc-steps.ts";

const ORDER: readonly RotationStep[] = ["claimed", "staged", "published", "retired", "closed"];

export const SFMC_MACHINE: StepMachine = {
  standard: ORDER,
  // Emergency only drops the soak: the old secret dies when the operator activates the new one in Setup.
  emergency: ORDER,
  // Never rolled back by the rotator: which secret is active is decided in Setup, not here. A failure after
  // `staged` is parked and resumed with rotate=now.
  rollbackFrom: new Set(),
  noReturn: "published",
};

const STEPS: Partial<Record<RotationStep, StepFunction>> = {
  claimed: verifyPendingStep,
  staged: publishStep,
  published: proveOldDeadStep,
  retired: closeSfmcStep,
};

export const sfmcProvider: RotationProvider = {
  name: "sfmc",
  machine: SFMC_MACHINE,
  checkPolicy: () => undefined,
  claimFields: () => ({}),
  stepFunction: (_mode, step) => STEPS[step],
  startsOnSchedule: false,

  waitingFor(r, deps) {
    if (r.step !== "published" || r.promoteAfter === undefined) return undefined;
    const now = deps.clock.now();
    return now < r.promoteAfter ? { waiting: "soak", until: r.promoteAfter } : undefined;
  },

  // While published, an operator's request means "activated in Setup": end the soak and look at once. The
  // scan's pickup of a pasted secret ("pending") is not a request: it never cuts a soak short.
  onRepeatStart: (r, opts, now) =>
    r.step === "published" && (isOperatorRequest(opts.trigger) || opts.mode === "emergency")
      ? { promoteAfter: now }
      : {},
  flagEndsOverlap: true,

  rollbackRefusal: () =>
    "a Marketing Cloud rotation is never rolled back by the rotator: which secret is active is decided in Setup; put the secret that works back into api_key by hand if needed",

  failureAdvice: (_mode, step, abandoned) =>
    abandoned
      ? `Nothing was published; KV is unchanged (${PENDING_API_KEY} is kept).`
      : step === "staged"
        ? "The journal holds the verified secret (not yet in KV); fix the cause and set rotate=now to resume."
        : "KV already holds the new secret in api_key and the old one in previous_key; fix the cause and set rotate=now to resume.",

  planWait(policy, mode, deps) {
    const soakMs = mode === "emergency" ? 0 : (policy.soakMs ?? deps.settings.soakMs);
    const when = soakMs === 0 ? "at once" : `after a soak of ${formatDuration(soakMs)}`;
    return {
      soakMs,
      text: `overlap: both secrets work until an operator activates the new one in Setup (${when}), then previous_key is cleared`,
    };
  },

  async planChecks(deps, _path, cred, add) {
    const url = sfmcAuthUrl(cred);
    add("preflight", url.ok, url.ok ? `Marketing Cloud auth host ${new URL(url.url).origin}` : url.why);
    const pending = pendingSecret(cred);
    add(
      "preflight",
      pending !== undefined,
      pending === undefined
        ? `no ${PENDING_API_KEY}: stage a secret in Setup and paste it there first`
        : `${PENDING_API_KEY} is set; it is verified at v2/token before anything is published`,
    );
    add(
      "preflight",
      secretField(cred, API_KEY) !== undefined,
      "the current api_key becomes previous_key until Marketing Cloud refuses it",
    );
    if (deps.sfmcTokenCheck === undefined)
      add("preflight", false, "no Marketing Cloud token check configured");
    add(
      "preflight",
      true,
      `after the soak, activate the staged secret in Setup; the old one is checked every ${SFMC_RECHECK_MS / 60_000} min or on rotate=now`,
    );
  },
};
