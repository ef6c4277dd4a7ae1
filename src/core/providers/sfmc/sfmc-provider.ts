// provider=sfmc: Marketing Cloud installed packages, assisted rotation. Marketing Cloud has no API to stage or
// activate a secret, so an operator stages one in Setup and pastes it into
// `pending_api_key`; the engine verifies, publishes and later proves the old secret dead (sfmc-steps.ts). The
// schedule never starts one: deadlines (expires_at, the 180-day TTL) only remind, through the scan's warnings.
import { RotatorError } from "../../errors.ts";
import { chooseDestination, parseCredentialPolicy } from "../../inventory/credential-policy.ts";
import type { DeadlineChatEvent, RotationChatEvent } from "../../notify/chat-event.ts";
import { formatUtc, kvPath, rotateNowCommand } from "../../notify/chat-text.ts";
import type { RotationProvider, StepFunction } from "../../rotation/engine-deps.ts";
import { API_KEY, CLIENT_ID, keyField, secretField } from "../../rotation/engine-deps.ts";
import type { RotationOutcome } from "../../rotation/rotation-outcome.ts";
import { possessionUnproven } from "../../rotation/rotation-run.ts";
import type { RotationStep, StepMachine } from "../../rotation/rotation-state.ts";
import { isOperatorRequest } from "../../rotation/rotation-state.ts";
import { formatDuration, formatPreciseDuration, formatRelative } from "../../time.ts";
import { checkSfmc } from "./sfmc-checks.ts";
import {
  chooseTenant,
  PENDING_API_KEY,
  pendingSecret,
  SFMC_METADATA_FIELDS,
  type SfmcPolicy,
  sfmcConsumer,
  sfmcDestinationProblem,
  sfmcMetadataProblem,
} from "./sfmc-fields.ts";
import { sfmcPickup } from "./sfmc-pickup.ts";
import {
  closeSfmcStep,
  proveOldDeadStep,
  publishStep,
  SFMC_RECHECK_MS,
  verifyPendingStep,
} from "./sfmc-steps.ts";

const ORDER: readonly RotationStep[] = ["claimed", "staged", "published", "retired", "closed"];

const SFMC_MACHINE: StepMachine = {
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
  metadataFields: SFMC_METADATA_FIELDS,
  metadataProblem: sfmcMetadataProblem,
  destinationProblem: sfmcDestinationProblem,
  awaitingText: () => "new secret published: activate it in Setup once the soak is over, then set rotate=now",
  // Activating the secret in Setup is a person's work: the wait is never called stuck.
  waitsForPerson: () => true,
  chatNextStep,
  outcomeText,
  cycleResultText(o) {
    if (o.kind === "completed") {
      return `completed: staged Marketing Cloud secret, KV version ${o.kvVersion ?? "?"}, ${formatPreciseDuration(o.durationMs)}`;
    }
    if (o.kind === "waiting" && o.waiting === "confirm") {
      return "waiting: activate the staged secret in Setup, then set rotate=now";
    }
    return undefined;
  },
  checks: { needsSecretData: true, run: checkSfmc },
  machine: SFMC_MACHINE,
  pickup: sfmcPickup,
  checkPolicy: (policy, path, deps) => {
    chooseTenant(policy, deps, path);
  },
  // The tenant's auth origin is pinned for the whole rotation: later steps never look at the metadata again.
  claimFields: (_cred, policy, deps, path) => {
    const tenant = chooseTenant(policy, deps, path);
    return { destination: tenant.name, destinationOrigin: tenant.origin };
  },
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
      ? { changes: { promoteAfter: now }, usesFlag: true }
      : { changes: {}, usesFlag: false },
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

  async consumerOf(deps, path, cred, policy) {
    const tenant = chooseTenant(policy, deps, path);
    const clientId = keyField(cred, CLIENT_ID);
    const secret = secretField(cred, API_KEY);
    const check = deps.sfmcTokenCheck;
    if (clientId === undefined || secret === undefined) {
      throw new RotatorError(
        "ROTATION_STATE_MISMATCH",
        "KV has no client_id/api_key of the installed package",
        {
          context: { path },
        },
      );
    }
    if (check === undefined) {
      throw new RotatorError("CONFIG_INVALID", "no Marketing Cloud token check is configured", {
        context: { path },
      });
    }
    return {
      consumer: sfmcConsumer(tenant.name, clientId),
      async prove() {
        const answer = await check(tenant.origin, clientId, secret);
        if (!answer.ok) {
          throw possessionUnproven(
            path,
            "the client_id/api_key in KV get no token at Marketing Cloud",
            answer.refusal,
          );
        }
      },
    };
  },

  async planChecks(deps, path, cred, add) {
    const policy = parseCredentialPolicy(cred.customMetadata, deps.providers);
    const tenant = chooseDestination(
      deps.settings.destinations,
      "tenant",
      policy.kind === "managed" ? (policy.policy as SfmcPolicy).sfmcTenant : undefined,
      path,
    );
    add(
      "preflight",
      tenant.ok,
      tenant.ok
        ? `Marketing Cloud tenant ${tenant.destination.name}: secrets go only to ${tenant.destination.origin}`
        : tenant.why,
    );
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

function chatNextStep(e: RotationChatEvent | DeadlineChatEvent, mount: string): string | undefined {
  const path = e.credential.path;
  const kv = kvPath(mount, path);
  switch (e.kind) {
    case "rotation.failed":
      // Never rolled back by the rotator, and a refused paste is only tried again after a new paste.
      return (
        `Check last_rotation_error (vault kv metadata get ${kv}). If Marketing Cloud refused the pasted secret, ` +
        "stage a new one in Setup, wait 5 minutes and paste it into pending_api_key (the next scan picks it up); " +
        `otherwise fix the cause, then resume: ${rotateNowCommand(mount, path)}`
      );
    case "rotation.action_needed":
      return (
        `Activate the staged secret (now api_key in ${kv}) in Setup → Installed Packages, then run: ${rotateNowCommand(mount, path)} ` +
        "(the rotator then proves the old secret is refused and clears previous_key)."
      );
    case "credential.due_soon":
    case "credential.overdue": {
      // The schedule never starts one (Marketing Cloud stages secrets in Setup only); the scan picks up a secret
      // pasted into pending_api_key, and rotate=now starts at once.
      const when = e.kind === "credential.overdue" ? "now" : `before ${formatUtc(e.deadline)}`;
      return (
        `Stage a new secret in Setup → Installed Packages ${when}, wait 5 minutes, then paste it into pending_api_key ` +
        `(vault kv patch ${kv} pending_api_key=- reads it from stdin). The rotator ` +
        `verifies and publishes it at its next scan (${rotateNowCommand(mount, path)} starts at once), ` +
        "then asks you to activate it in Setup."
      );
    }
    default:
      return undefined;
  }
}

function outcomeText(o: RotationOutcome, now: Date): string | undefined {
  if (o.kind === "completed") {
    return (
      `completed: ${o.path}: rotated (${o.mode ?? "standard"}) in ${formatPreciseDuration(o.durationMs)}; ` +
      `the staged Marketing Cloud secret is api_key (KV version ${o.kvVersion ?? "?"}); the old one is refused and previous_key is cleared`
    );
  }
  if (o.kind === "waiting") {
    return o.waiting === "confirm"
      ? `waiting: ${o.path}: the new secret is published; the old one still gets tokens: activate the staged ` +
          "secret in Setup (Installed Packages), then set rotate=now (or run rotate PATH again)"
      : `waiting: ${o.path}: the new secret is published (api_key, old one in previous_key); activate it in ` +
          `Setup after the soak at ${o.until.toISOString()} (${formatRelative(o.until.getTime() - now.getTime())})`;
  }
  return undefined;
}
