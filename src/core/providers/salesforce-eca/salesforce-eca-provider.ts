// provider=salesforce-eca: Salesforce's staged-credentials API. Its steps live in
// src/core/rotation/steps/ (the engine's first provider); this file is what the shared engine asks of it.

import { isRotatorError } from "../../errors.ts";
import type { RotationProvider, StepFunction } from "../../rotation/engine-deps.ts";
import { CLIENT_ID, keyField } from "../../rotation/engine-deps.ts";
import { readersPlanText, soaksForReaders } from "../../rotation/readers-soak.ts";
import {
  ECA_MACHINE,
  isOperatorRequest,
  isPastPromotion,
  type RotationMode,
  type RotationStep,
} from "../../rotation/rotation-state.ts";
import { formatDuration } from "../../time.ts";
import {
  connectionOf,
  ECA_METADATA_FIELDS,
  ecaDestinationProblem,
  ecaMetadataProblem,
  inspectCredential,
  inspectionProblems,
  inspectStep,
  provePossession,
} from "./inspect-step.ts";
import { finishRollbackStep, rollbackStep } from "./rollback-steps.ts";
import { checkSalesforceEca } from "./salesforce-eca-checks.ts";
import {
  closeStep,
  promoteIntentStep,
  promoteStep,
  publishEmergencyStep,
  publishStandardStep,
  retireStep,
  soakStep,
  stageStep,
  stagingIntentStep,
  verifyMainStep,
  verifyMainThenRetireStep,
  verifyNewStep,
} from "./stage-to-retire-steps.ts";

export const salesforceEcaProvider: RotationProvider = {
  name: "salesforce-eca",
  metadataFields: ECA_METADATA_FIELDS,
  metadataProblem: ecaMetadataProblem,
  destinationProblem: ecaDestinationProblem,
  checks: { needsSecretData: true, run: checkSalesforceEca },
  resolvesParked: true,
  machine: ECA_MACHINE,
  // The parser already requires eca_app_id or eca_app_name; the app is resolved at inspect. The
  // connection must be one the configuration names and lets this path use, before anything is journaled.
  checkPolicy: (policy, path, deps) => {
    connectionOf(policy, deps, path);
  },
  claimFields: (cred) => ({ oldClientId: keyField(cred, CLIENT_ID) }),
  stepFunction,

  waitingFor(r, deps) {
    // The soak or retire_after still running.
    const now = deps.clock.now();
    if (r.mode !== "standard") return undefined;
    if (r.step === "published" && r.promoteAfter !== undefined && now < r.promoteAfter) {
      return { waiting: "soak", until: r.promoteAfter };
    }
    const retireAfter = deps.settings.retireAfterMs ?? 0;
    if (r.step === "verified_main" && retireAfter > 0 && r.promotedAt !== undefined && r.retireNow !== true) {
      const until = new Date(r.promotedAt.getTime() + retireAfter);
      if (now < until) return { waiting: "retire", until };
    }
    return undefined;
  },

  // An emergency flag on a soaking rotation ends the soak: promote now, and retire the old pair at once, without
  // waiting for retire_after. Asked for after promotion (during the retire wait, say), it ends that wait too, but
  // it is not used up: the new pair has been in KV since publication and may be what leaked, so the flag survives
  // the close and an emergency rotation follows.
  // soak_until=readers: any operator's request (rotate=now, rotate PATH, the API) ends the soak too, and the
  // promotion records it as the operator's decision.
  onRepeatStart: (r, opts, now) => {
    const readers = r.step === "published" && soaksForReaders(r);
    if (readers && opts.mode === "standard" && isOperatorRequest(opts.trigger)) {
      return { changes: { promoteAfter: now, soakEndedBy: opts.actor }, usesFlag: true };
    }
    if (opts.mode !== "emergency" || r.mode !== "standard") return { changes: {}, usesFlag: false };
    if (r.step === "published") {
      const ended = readers ? { soakEndedBy: opts.actor } : {};
      return { changes: { promoteAfter: now, retireNow: true, ...ended }, usesFlag: true };
    }
    if (isPastPromotion(r.mode, r.step)) return { changes: { retireNow: true }, usesFlag: false };
    return { changes: {}, usesFlag: false };
  },
  flagEndsOverlap: false,
  readersSoak: true,

  rollbackRefusal: (mode, at) =>
    mode === "emergency"
      ? "an emergency rotation revokes first and is never rolled back; let it finish"
      : at !== undefined && isPastPromotion(mode, at) && at !== "promoting"
        ? "Salesforce has promoted the new pair: there is no way back; let the rotation finish"
        : "nothing has been staged yet; the rotation can only go on or fail",

  failureAdvice: (mode, step, abandoned) =>
    abandoned
      ? "Nothing was changed at Salesforce or in KV."
      : isPastPromotion(mode, step)
        ? "Salesforce already uses the new pair, which the journal keeps; fix the cause and set rotate=now to resume."
        : "The journal keeps the staged pair; fix the cause and set rotate=now to resume.",

  planWait(policy, mode, deps) {
    if (mode === "emergency") {
      return { soakMs: 0, text: "soak: none (emergency: the old pair dies at once)" };
    }
    const soakMs = policy.soakMs ?? deps.settings.soakMs;
    const readers = readersPlanText(policy, deps, soakMs);
    if (readers !== undefined) return { soakMs, text: readers };
    return { soakMs, text: `soak: ${formatDuration(soakMs)} between publishing and promoting` };
  },

  async consumerOf(deps, path, cred) {
    const inspection = await inspectCredential(deps, path, cred);
    // Who owns the consumer and whether a set is staged do not matter here; the pair in KV must be the main
    // pair, and not the rotator's own.
    const problem = inspectionProblems(inspection, path).find(
      (p) => p.code !== "POLICY_CONSUMER_OWNED" && p.code !== "SALESFORCE_STAGED_CONFLICT",
    );
    if (problem !== undefined) throw problem;
    return {
      consumer: inspection.consumer,
      prove: () => provePossession(deps, path, inspection.target.connection, cred),
    };
  },

  async planChecks(deps, path, cred, add) {
    const inspection = await inspectCredential(deps, path, cred);
    add(
      "salesforce",
      true,
      `app ${inspection.target.appId}, consumer ${inspection.target.consumerId} on ${inspection.target.connection}`,
    );
    const problems = inspectionProblems(inspection, path);
    if (problems.length === 0)
      add("preflight", true, "not self-rotation; KV matches Salesforce; nothing staged");
    for (const p of problems) add("preflight", false, `${p.code}: ${p.message}`);
    if (inspection.owner === undefined) {
      add(
        "preflight",
        true,
        "no path owns this consumer yet: this path becomes its owner once its pair logs in",
      );
    } else if (inspection.owner.path === path) {
      add("preflight", true, "this path owns the consumer");
    }
    try {
      await provePossession(deps, path, inspection.target.connection, cred);
      add("preflight", true, "the pair in KV logs in at Salesforce (the path holds this consumer)");
    } catch (err) {
      if (!isRotatorError(err)) throw err;
      add("preflight", false, `${err.code}: ${err.message}`);
    }
  },
};

// Which step function leads out of each state, per mode (rotation-state.ts has the orders). Each function ends
// with run.advance(next), which refuses anything but the allowed transitions.
type StepTable = Partial<Record<RotationStep, StepFunction>>;

const ROLLBACK: StepTable = { rolling_back: rollbackStep, rolled_back: finishRollbackStep };

// Standard mode's shortcuts (rotation-state.ts): inspect journals `staging`, verifyNewStep publishes, and
// verifyMainThenRetireStep retires, each in one journal write. `inspected`, `verified` and `verified_main` keep
// their functions for journals written at those steps (verified_main: while retire_after waits).
const STANDARD: StepTable = {
  claimed: inspectStep,
  inspected: stagingIntentStep,
  staging: stageStep,
  staged: verifyNewStep,
  verified: publishStandardStep,
  published: soakStep,
  promoting: promoteStep,
  promoted: verifyMainThenRetireStep,
  verified_main: retireStep,
  retired: closeStep,
  ...ROLLBACK,
};

const EMERGENCY: StepTable = {
  claimed: inspectStep,
  inspected: stagingIntentStep,
  staging: stageStep,
  staged: promoteIntentStep,
  promoting: promoteStep,
  promoted: publishEmergencyStep,
  published: retireStep,
  retired: verifyMainStep,
  verified_main: closeStep,
  ...ROLLBACK,
};

/** The function that moves a journal on from `step`; undefined for `failed` (parked until an operator acts). */
function stepFunction(mode: RotationMode, step: RotationStep): StepFunction | undefined {
  return (mode === "emergency" ? EMERGENCY : STANDARD)[step];
}
