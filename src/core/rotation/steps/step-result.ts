// What a step function returns. A step either moved the journal on (undefined), must wait (the soak, or
// retire_after), or finished the rotation. Failures are thrown as RotatorError; the engine counts, retries,
// rolls back or parks them.
import type { RotationOutcome } from "../rotation-outcome.ts";
import type { WaitKind } from "../rotation-provider.ts";
import type { RotationRun } from "../rotation-run.ts";

export type StepResult =
  | undefined
  | { readonly kind: "wait"; readonly waiting: WaitKind; readonly until: Date }
  | { readonly kind: "done"; readonly outcome: RotationOutcome };

export type StepFunction = (run: RotationRun) => Promise<StepResult>;
