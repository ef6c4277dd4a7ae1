// The engine rotates whatever providers the composition root hands it and imports none, and the rest of the
// program asks a provider for its own metadata keys and words: a provider defined here, in the test, under a
// name no source file knows ("toy"), is run by the real engine with the in-memory ports, and its keys, its scan
// wording, its chat next steps, its CLI outcome lines and its `check` findings are the ones printed.
import { describe, expect, it } from "vitest";
import { describeCycle, describeOutcome } from "../../../src/cli/outcome-text.ts";
import { classifyEntry, DEFAULT_CLASSIFY_DEFAULTS } from "../../../src/core/inventory/classify.ts";
import {
  parseCredentialPolicy,
  patternMetadataField,
} from "../../../src/core/inventory/credential-policy.ts";
import type { RotationChatEvent } from "../../../src/core/notify/chat-event.ts";
import { deadlineNextStep, rotationNextStep } from "../../../src/core/notify/chat-next-step.ts";
import { credentialFacts, ok } from "../../../src/core/providers/credential-facts.ts";
import { checkCredential, needsSecretData } from "../../../src/core/providers/provider-checks.ts";
import { PROVIDERS } from "../../../src/core/providers/provider-registry.ts";
import {
  ProviderSet,
  type RotationProvider,
  type RotationRun,
  type StepResult,
} from "../../../src/core/rotation/engine-deps.ts";
import { createRotationEngine, type RotationEngine } from "../../../src/core/rotation/rotation-engine.ts";
import { finishClose, stampClosed, writeWithCas } from "../../../src/core/rotation/rotation-run.ts";
import { SecretValue } from "../../../src/core/secret-value.ts";
import { kvEntry } from "../../fakes/kv-entry-builder.ts";
import { ManualScheduler } from "../../fakes/manual-scheduler.ts";
import {
  FLAG,
  type GeneratedWorld,
  GPATH,
  makeGeneratedWorld,
} from "../providers/generated/generated-world.ts";
import { fingerprint, SETTINGS } from "./rotation-world.ts";

const TOY_SECRET = "test-secret-canary-toy-value";
const TOY_METADATA = { provider: "toy", toy_channel: "#toy-ops" };

function toyProvider(calls: string[] = []): RotationProvider {
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
  const channel = (policy: { readonly [k: string]: unknown }) => String(policy["toyChannel"]);
  return {
    name: "toy",
    // Its own metadata key, its message, and a rule across keys.
    metadataFields: {
      toy_channel: patternMetadataField("toyChannel", /^#[a-z-]{1,40}$/, "a channel like #toy-ops"),
    },
    metadataProblem: (policy) => (policy["toyChannel"] === undefined ? "toy needs toy_channel" : undefined),
    // Its scan words.
    awaitingText: (policy) => `toy secret out: ${channel(policy)} confirms it`,
    waitsForPerson: () => true,
    // Its chat next steps (the generic ones where it has none).
    chatNextStep: (e, mount) =>
      e.kind === "rotation.completed"
        ? `Tell ${mount}/${e.credential.path}'s channel it is done.`
        : undefined,
    // Its CLI lines.
    outcomeText: (o) =>
      o.kind === "completed" ? `completed: ${o.path}: the toy swapped its secret` : undefined,
    cycleResultText: (o) => (o.kind === "completed" ? "toy: swapped" : undefined),
    checks: { needsSecretData: false, run: () => [ok("the toy checks its channel only")] },
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
    const w = makeGeneratedWorld({ metadata: TOY_METADATA });
    const calls: string[] = [];
    const engine = engineWith(w, new ProviderSet([toyProvider(calls)]), "toy-1");

    const out = await engine.start(GPATH, FLAG);

    expect(out).toMatchObject({ kind: "completed", rotationId: "toy-1", provider: "toy" });
    expect(calls).toEqual(["write at claimed", "close at staged"]);
    expect(w.store.current(GPATH).data["current_secret"]).toBe(TOY_SECRET);
    expect(w.store.current(GPATH).metadata).toMatchObject({ rotation_state: "idle" });
    expect(w.state.journal(GPATH)).toBeUndefined();
    expect(w.audit.events.map((e) => e.type)).toContain("rotation.completed");
    expect(w.notifier.sent).toEqual([
      expect.objectContaining({ kind: "rotation.completed", provider: "toy", text: `toy rotated ${GPATH}` }),
    ]);
    expect(w.drawn).toEqual([]);
    expect(w.issuer.calls).toEqual([]);
    // The CLI's lines for that outcome are the toy's.
    expect(describeOutcome(out, new Date(), new ProviderSet([toyProvider()]))).toBe(
      `completed: ${GPATH}: the toy swapped its secret`,
    );
    const table = describeCycle(
      [{ path: GPATH, action: "rotate", outcome: out, reason: "flag" }],
      new Date(),
      new ProviderSet([toyProvider()]),
    );
    expect(table.join("\n")).toContain("toy: swapped");
  });

  it("is refused, not guessed at, when the set does not hold the journal's provider", async () => {
    const w = makeGeneratedWorld({ metadata: TOY_METADATA });
    const out = await engineWith(w, new ProviderSet([]), "toy-2").start(GPATH, FLAG);
    expect(out).toMatchObject({ kind: "skipped", code: "POLICY_INVALID" });
    expect(w.store.current(GPATH).data["current_secret"]).not.toBe(TOY_SECRET);
  });

  it("reads its own metadata keys, with its own messages, and only where it is registered", () => {
    const toys = new ProviderSet([toyProvider()]);
    const parsed = parseCredentialPolicy(TOY_METADATA, toys);
    expect(parsed).toMatchObject({ kind: "managed", policy: { provider: "toy", toyChannel: "#toy-ops" } });
    expect(toys.policyKeys).toContain("toy_channel");

    expect(parseCredentialPolicy({ provider: "toy", toy_channel: "toy ops" }, toys)).toMatchObject({
      kind: "invalid",
      reason: "toy_channel must be a channel like #toy-ops",
    });
    expect(parseCredentialPolicy({ provider: "toy" }, toys)).toMatchObject({
      kind: "invalid",
      reason: "toy needs toy_channel",
    });
    expect(parseCredentialPolicy({ provider: "generated" }, toys)).toMatchObject({
      kind: "invalid",
      reason: 'provider must be one of toy (got "generated")',
    });
    // The program's own set has never heard of it: the same clear reason, listing the names it knows.
    expect(parseCredentialPolicy(TOY_METADATA, PROVIDERS)).toMatchObject({
      kind: "invalid",
      reason: 'provider must be one of salesforce-eca, sfmc, generated, manual (got "toy")',
    });
    expect(PROVIDERS.policyKeys).not.toContain("toy_channel");
  });

  it("words the scan's reason for a published rotation, which is never stuck while a person confirms", () => {
    const toys = new ProviderSet([toyProvider()]);
    const entry = kvEntry(GPATH, { ...TOY_METADATA, rotation_state: "awaiting_promotion" });
    const item = classifyEntry(entry, new Date("2026-06-01T00:00:00Z"), {
      ...DEFAULT_CLASSIFY_DEFAULTS,
      providers: toys,
    });
    expect(item).toMatchObject({
      state: "awaiting_promotion",
      provider: "toy",
      reason: "toy secret out: #toy-ops confirms it",
      stuck: false,
    });
  });

  it("gives chat its next step, and the generic one where it has none", () => {
    const toys = new ProviderSet([toyProvider()]);
    const credential = { path: GPATH, provider: "toy", consumers: [] };
    const completed: RotationChatEvent = {
      kind: "rotation.completed",
      credential,
      rotationId: "toy-3",
      text: "done",
      at: new Date(),
    };
    expect(rotationNextStep(completed, "secret", toys)).toBe(`Tell secret/${GPATH}'s channel it is done.`);
    // No deadline words of its own: a provider the engine rotates gets the generic "rotate now" step.
    const overdue = { kind: "credential.overdue" as const, credential, deadline: new Date(), at: new Date() };
    expect(deadlineNextStep(overdue, "secret", toys)).toBe(
      `Rotate now: vault kv metadata patch -custom-metadata=rotate=now secret/${GPATH}`,
    );
  });

  it("gives `check` its findings and says whether its secret data is read", () => {
    const toys = new ProviderSet([toyProvider()]);
    const item = classifyEntry(kvEntry(GPATH, TOY_METADATA), new Date("2026-02-01T00:00:00Z"), {
      ...DEFAULT_CLASSIFY_DEFAULTS,
      providers: toys,
    });
    expect(needsSecretData(item, toys)).toBe(false);
    const ctx = { destinations: { connections: [], tenants: [] }, kvMount: "secret", now: new Date() };
    expect(checkCredential(credentialFacts(item), ctx, toys)).toEqual([
      { mark: "ok", text: "the toy checks its channel only" },
    ]);
  });
});
