// Which step function leads out of each state, per mode (rotation-state.ts has the orders). Each function ends
// with run.advance(next), which refuses anything but the allowed transitions.

import type { StepFunction } from "../../rotation/engine-deps.ts";
import type { RotationMode, RotationStep } from "../../rotation/rotation-state.ts";
import { inspectStep } from "./inspect-step.ts";
import { promoteIntentStep, promoteStep, soakStep } from "./promote-steps.ts";
import { publishEmergencyStep, publishStandardStep } from "./publish-steps.ts";
import { retireStep } from "./retire-step.ts";
import { finishRollbackStep, rollbackStep } from "./rollback-steps.ts";
import { stageStep, stagingIntentStep } from "./stage-step.ts";
import { closeStep, verifyMainStep, verifyMainThenRetireStep, verifyNewStep } from "./verify-steps.ts";

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
export function stepFunction(mode: RotationMode, step: RotationStep): StepFunction | undefined {
  return (mode === "emergency" ? EMERGENCY : STANDARD)[step];
}
