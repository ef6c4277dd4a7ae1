// The engine rotates whatever providers the composition root hands it and imports none: a provider defined here,
// in the test, is run by the real engine with the in-memory ports. It takes the name `generated` because the
// metadata parser still knows provider names itself (per-provider metadata parsing is the next step of moving
// providers into plug-ins); everything else (its state machine, its steps, its words) is the toy's own.
import { describe, expect, it } from "vitest";
import {
  ProviderSet,
  type RotationProvider,
  type RotationRun,
  type StepResult,
} from "../../../src/core/rotation/engine-deps.ts";
import { createRotationEngine, type RotationEngine } from "../../../src/core/rotation/rotation-engine.ts";
import { finishClose, stampClosed, writeWithCas } from "../../../src/core/rotation/shared-steps.ts";
import { SecretValue } from "../../../src/core/secret-value.ts";
import { ManualScheduler } from "../../fakes/manual-scheduler.ts";
import {
  FLAG,
  type GeneratedWorld,
  GPATH,
  makeGeneratedWorld,
} from "../providers/generated/generated-world.ts";
import { fingerprint, SETTINGS } from "./rotation-world.ts";

const TOY_SECRET = "test-secret-canary-toy-value";

function toyProvider(calls: string[]): RotationProvider {
  // claimed → staged (write the new value to KV) → closed (stamp, tell everyone, end).
  const write = async (run: RotationRun): Promise<StepResult> => {
    calls.push(`write at ${run.record.step}`);
    const written = await writeWithCas(run, () => ({ current_secret: SecretValue.of(TOY_SECRET) }));
    await run.advance("staged", { kvVersionPublished: written.version });
    return undefined;
  };
  const close = async (run: RotationRun): Promise<StepResult> => {
    calls.push(`close at ${run.record.step}`);
    const now = run.now();
    await stampClosed(run, now);
    return finishClose(run, now, `toy rotated ${run.path}`);
  };
  const steps = { claimed: write, staged: close };
  return {
    name: "generated",
    machine: {
      standard: ["claimed", "staged", "closed"],
      emergency: ["claimed", "staged", "closed"],
      rollbackFrom: new Set(),
      noReturn: "staged",
    },
    checkPolicy: () => undefined,
    claimFields: () => ({}),
    stepFunction: (_mode, step) => (step === "claimed" || step === "staged" ? steps[step] : undefined),
    waitingFor: () => undefined,
    onRepeatStart: () => ({ changes: {}, usesFlag: false }),
    flagEndsOverlap: false,
    rollbackRefusal: () => "the toy never rolls back",
    failureAdvice: () => "the toy has no advice.",
    planWait: () => ({ soakMs: 0, text: "no wait" }),
    planChecks: async (_deps, _path, _cred, add) => add("preflight", true, "the toy checks nothing"),
  };
}

/** The real engine on the generated world's in-memory ports, with exactly these providers. */
function engineWith(w: GeneratedWorld, providers: ProviderSet, id: string): RotationEngine {
  return createRotationEngine({
    providers,
    issuer: w.issuer,
    store: w.store,
    state: w.state,
    audit: w.audit,
    notifier: w.notifier,
    clock: w.clock,
    scheduler: new ManualScheduler(w.clock),
    ids: () => id,
    owner: "replica-a",
    fingerprint,
    settings: SETTINGS,
  });
}

describe("a provider the engine has never heard of", () => {
  it("is run by the real engine from the set it is given: its steps, its machine, its words", async () => {
    const w = makeGeneratedWorld();
    const calls: string[] = [];
    const engine = engineWith(w, new ProviderSet([toyProvider(calls)]), "toy-1");

    const out = await engine.start(GPATH, FLAG);

    expect(out).toMatchObject({ kind: "completed", rotationId: "toy-1", provider: "generated" });
    expect(calls).toEqual(["write at claimed", "close at staged"]);
    expect(w.store.current(GPATH).data["current_secret"]).toBe(TOY_SECRET);
    expect(w.store.current(GPATH).metadata).toMatchObject({ rotation_state: "idle" });
    expect(w.state.journal(GPATH)).toBeUndefined();
    expect(w.audit.events.map((e) => e.type)).toContain("rotation.completed");
    expect(w.notifier.sent).toEqual([
      expect.objectContaining({
        kind: "rotation.completed",
        provider: "generated",
        text: `toy rotated ${GPATH}`,
      }),
    ]);
    // The toy's machine, not the real generated provider's (which has no such path and would have drawn bytes).
    expect(w.drawn).toEqual([]);
    expect(w.issuer.calls).toEqual([]);
  });

  it("is refused, not guessed at, when the set does not hold the journal's provider", async () => {
    const w = makeGeneratedWorld();
    const out = await engineWith(w, new ProviderSet([]), "toy-2").start(GPATH, FLAG);
    expect(out).toMatchObject({ kind: "skipped", code: "POLICY_INVALID" });
    expect(w.store.current(GPATH).data["current_secret"]).not.toBe(TOY_SECRET);
  });
});
