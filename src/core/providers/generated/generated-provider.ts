// provider=generated: webhook signing secrets and other shared secrets the rotator makes itself (a dual-accept
// handshake). No issuer to call: the steps only generate, write KV and wait for the overlap to end.
import { parseCredentialPolicy } from "../../inventory/credential-policy.ts";
import { kvPath, rotateNowCommand } from "../../notify/chat-text.ts";
import type { RotationProvider, StepFunction } from "../../rotation/engine-deps.ts";
import { readersPlanText, soaksForReaders } from "../../rotation/readers-soak.ts";
import type { RotationOutcome } from "../../rotation/rotation-outcome.ts";
import type { RotationStep, StepMachine } from "../../rotation/rotation-state.ts";
import { isOperatorRequest } from "../../rotation/rotation-state.ts";
import { formatDuration, formatPreciseDuration, formatRelative } from "../../time.ts";
import { checkGenerated } from "./generated-checks.ts";
import { confirmsByFlag, currentSecret, GENERATED_METADATA_FIELDS } from "./generated-fields.ts";
import { finishGeneratedRollbackStep, rollbackGeneratedStep } from "./generated-rollback.ts";
import {
  CONFIRM_RECHECK_MS,
  closeGeneratedStep,
  endOverlapStep,
  generateStep,
  publishAloneStep,
  publishDualAcceptStep,
} from "./generated-steps.ts";

const GENERATED_MACHINE: StepMachine = {
  standard: ["claimed", "staged", "published", "retired", "closed"],
  // Emergency drops the old secret at publication: there is no overlap to end.
  emergency: ["claimed", "staged", "published", "closed"],
  rollbackFrom: new Set(["staged", "published"]),
  noReturn: "retired",
};

type StepTable = Partial<Record<RotationStep, StepFunction>>;

const ROLLBACK: StepTable = { rolling_back: rollbackGeneratedStep, rolled_back: finishGeneratedRollbackStep };

const STANDARD: StepTable = {
  claimed: generateStep,
  staged: publishDualAcceptStep,
  published: endOverlapStep,
  retired: closeGeneratedStep,
  ...ROLLBACK,
};

const EMERGENCY: StepTable = {
  claimed: generateStep,
  staged: publishAloneStep,
  published: closeGeneratedStep,
  ...ROLLBACK,
};

export const generatedProvider: RotationProvider = {
  name: "generated",
  metadataFields: GENERATED_METADATA_FIELDS,
  awaitingText: (policy) =>
    confirmsByFlag(policy)
      ? "new secret published, both accepted: waiting for an operator's rotate=now once the sender uses it"
      : "new secret published, both accepted until the soak ends",
  // Under confirm_by=flag a person switches the sender first: the wait is never called stuck.
  waitsForPerson: confirmsByFlag,
  chatNextStep(e, mount) {
    if (e.kind !== "rotation.action_needed") return undefined;
    return (
      `Update the sender to sign with current_secret from ${kvPath(mount, e.credential.path)} (receivers accept current_secret and ` +
      `previous_secret meanwhile), then end the overlap: ${rotateNowCommand(mount, e.credential.path)}`
    );
  },
  outcomeText,
  cycleResultText: (o) =>
    o.kind === "completed"
      ? `completed: new generated secret, KV version ${o.kvVersion ?? "?"}, ${formatPreciseDuration(o.durationMs)}`
      : undefined,
  checks: { needsSecretData: true, run: checkGenerated },
  machine: GENERATED_MACHINE,
  checkPolicy: () => undefined,
  claimFields: () => ({}),
  stepFunction: (mode, step) => (mode === "emergency" ? EMERGENCY : STANDARD)[step],

  waitingFor(r, deps) {
    if (r.mode !== "standard" || r.step !== "published") return undefined;
    const now = deps.clock.now();
    if (r.promoteAfter === undefined) {
      return { waiting: "confirm", until: new Date(now.getTime() + CONFIRM_RECHECK_MS) };
    }
    return now < r.promoteAfter ? { waiting: "soak", until: r.promoteAfter } : undefined;
  },

  // During the overlap an operator's request (rotate=now, rotate PATH, the HTTP API, or an emergency) means
  // "the sender uses the new secret": end the overlap now. The schedule never confirms anything.
  onRepeatStart: (r, opts, now) =>
    r.mode === "standard" &&
    r.step === "published" &&
    (isOperatorRequest(opts.trigger) || opts.mode === "emergency")
      ? {
          changes: { promoteAfter: now, ...(soaksForReaders(r) ? { soakEndedBy: opts.actor } : {}) },
          usesFlag: true,
        }
      : { changes: {}, usesFlag: false },
  flagEndsOverlap: true,
  readersSoak: true,

  rollbackRefusal: (mode, at) =>
    mode === "emergency"
      ? "an emergency rotation drops the old secret at once and is never rolled back; let it finish"
      : at === "retired" || at === "closed"
        ? "previous_secret is already cleared, the old secret is no longer kept; let the rotation finish"
        : "nothing has been generated yet; the rotation can only go on or fail",

  failureAdvice: (_mode, step, abandoned) =>
    abandoned
      ? "Nothing was changed in KV."
      : step === "published" || step === "retired"
        ? "KV already holds the new secret, which the journal keeps; fix the cause and set rotate=now to resume."
        : "The journal keeps the new secret (not yet in KV); fix the cause and set rotate=now to resume.",

  planWait(policy, mode, deps) {
    if (mode === "emergency") {
      return {
        soakMs: 0,
        text: "overlap: none (emergency: the old secret is dropped when the new one is published)",
      };
    }
    if (confirmsByFlag(policy)) {
      return {
        soakMs: 0,
        text: "overlap: both secrets are accepted until an operator sets rotate=now (confirm_by=flag)",
      };
    }
    const soakMs = policy.soakMs ?? deps.settings.soakMs;
    const readers = readersPlanText(policy, deps, soakMs);
    if (readers !== undefined) return { soakMs, text: `overlap: both secrets are accepted; ${readers}` };
    return {
      soakMs,
      text: `overlap: both secrets are accepted for ${formatDuration(soakMs)}, then previous_secret is cleared`,
    };
  },

  async planChecks(deps, _path, cred, add) {
    add(
      "preflight",
      true,
      currentSecret(cred) === undefined
        ? "no current_secret yet: the first secret is generated, with nothing to overlap"
        : "KV has a current_secret; it stays accepted as previous_secret during the overlap",
    );
    const parsed = parseCredentialPolicy(cred.customMetadata, deps.providers);
    const flag = parsed.kind === "managed" && confirmsByFlag(parsed.policy);
    add(
      "preflight",
      true,
      flag
        ? "confirm_by=flag: the overlap ends when an operator sets rotate=now once the sender uses the new secret"
        : "the overlap ends after the soak (or earlier when an operator sets rotate=now)",
    );
    if (deps.randomBytes === undefined) add("preflight", false, "no random source for generated secrets");
  },
};

function outcomeText(o: RotationOutcome, now: Date): string | undefined {
  switch (o.kind) {
    case "completed":
      return (
        `completed: ${o.path}: rotated (${o.mode ?? "standard"}) in ${formatPreciseDuration(o.durationMs)}; ` +
        `new generated secret published as KV version ${o.kvVersion ?? "?"}; previous_secret is cleared`
      );
    case "waiting":
      if (o.waiting === "readers") {
        return (
          `waiting: ${o.path}: the new secret is published and both secrets are accepted (dual-accept); ` +
          `${o.detail ?? "waiting for readers"} (next look ${formatRelative(o.until.getTime() - now.getTime())})`
        );
      }
      return o.waiting === "confirm"
        ? `waiting: ${o.path}: the new secret is published and both secrets are accepted (dual-accept); ` +
            "once the sender uses the new secret, set rotate=now (or run rotate PATH again) to end the overlap"
        : `waiting: ${o.path}: the new secret is published and both secrets are accepted (dual-accept) until ` +
            `${o.until.toISOString()} (${formatRelative(o.until.getTime() - now.getTime())})`;
    case "rolled_back": {
      const restored =
        o.kvVersion === undefined
          ? "nothing had been published"
          : `the old secret is current_secret again (KV version ${o.kvVersion})`;
      return `rolled back: ${o.path}: ${restored}; ${o.message}`;
    }
    default:
      return undefined;
  }
}
