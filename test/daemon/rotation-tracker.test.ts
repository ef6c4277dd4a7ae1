// RotationTracker: what this replica knows of rotations, from requests, audit events and the engine's outcomes.
import { describe, expect, it } from "vitest";
import type { RotationOutcome, WaitKind } from "../../src/core/rotation/rotation-outcome.ts";
import type { AuditEvent } from "../../src/core/rotation/rotation-state.ts";
import { RotationTracker } from "../../src/daemon/rotation-tracker.ts";

const PATH = "api-credentials/team-a/crm";
const T0 = new Date("2026-03-02T10:00:00.000Z");
const later = (ms: number) => new Date(T0.getTime() + ms);

function queue(t: RotationTracker, rotationId: string, path = PATH, at = T0): void {
  t.queued({ rotationId, path, mode: "standard", trigger: "http", actor: "http:ops", requestedAt: at });
}

function event(rotationId: string, step: AuditEvent["step"], extra: Partial<AuditEvent> = {}): AuditEvent {
  return {
    type: "rotation.staged",
    time: later(1_000).toISOString(),
    rotationId,
    path: PATH,
    provider: "salesforce-eca",
    mode: "standard",
    trigger: "schedule",
    actor: "scheduler",
    step,
    ...extra,
  };
}

const base = { path: PATH, mode: "standard" as const, sinkFailures: 0 };

function waiting(rotationId: string, until: Date, kind: WaitKind = "soak"): RotationOutcome {
  return { ...base, kind: "waiting", rotationId, step: "published", waiting: kind, until };
}

function completed(rotationId: string | undefined): RotationOutcome {
  return {
    ...base,
    kind: "completed",
    rotationId,
    kvVersion: 4,
    keyFingerprint: "fp:1",
    durationMs: 10,
    outageMs: undefined,
  };
}

function failed(rotationId: string | undefined, willRetry: boolean): RotationOutcome {
  return {
    ...base,
    kind: "failed",
    rotationId,
    step: "staged",
    code: "SALESFORCE_UNAVAILABLE",
    message: "Salesforce did not answer",
    willRetry,
    attempts: 1,
  };
}

function skipped(rotationId: string | undefined, reason: string): RotationOutcome {
  return { ...base, kind: "skipped", rotationId, reason, code: undefined };
}

describe("RotationTracker", () => {
  it("follows a requested rotation from queued through running and waiting to completed", () => {
    const t = new RotationTracker();
    queue(t, "r1");
    expect(t.get("r1")).toMatchObject({ status: "queued", path: PATH, actor: "http:ops", requestedAt: T0 });

    t.running("r1");
    expect(t.get("r1")?.status).toBe("running");

    t.onEvent(event("r1", "staged"));
    expect(t.get("r1")).toMatchObject({ status: "running", step: "staged" });

    const until = later(15 * 60_000);
    t.onOutcome(waiting("r1", until), "r1", later(2_000));
    expect(t.get("r1")).toMatchObject({ status: "waiting", waitingUntil: until, step: "published" });
    expect(t.get("r1")?.finishedAt).toBeUndefined();

    // The resume after the soak emits events again: running, then the final outcome.
    t.onEvent(event("r1", "promoted", { type: "rotation.promoted" }));
    expect(t.get("r1")).toMatchObject({ status: "running", step: "promoted" });
    t.onOutcome(completed("r1"), undefined, later(20 * 60_000));
    expect(t.get("r1")).toMatchObject({ status: "completed", finishedAt: later(20 * 60_000) });
  });

  it("keeps a failure the engine will retry open as waiting, and closes one it will not", () => {
    const t = new RotationTracker();
    queue(t, "r1");
    t.running("r1");
    t.onOutcome(failed("r1", true), "r1", later(1_000));
    expect(t.get("r1")).toMatchObject({ status: "waiting", errorCode: "SALESFORCE_UNAVAILABLE" });
    expect(t.get("r1")?.finishedAt).toBeUndefined();

    t.onOutcome(failed("r1", false), undefined, later(2_000));
    expect(t.get("r1")).toMatchObject({
      status: "failed",
      errorCode: "SALESFORCE_UNAVAILABLE",
      message: "Salesforce did not answer",
      finishedAt: later(2_000),
    });
  });

  it("records a rolled-back rotation with its code and message", () => {
    const t = new RotationTracker();
    queue(t, "r1");
    t.onOutcome(
      {
        ...base,
        kind: "rolled_back",
        rotationId: "r1",
        code: "ROTATION_VERIFY_FAILED",
        message: "the new key did not verify",
        kvVersion: 5,
      },
      "r1",
      later(1_000),
    );
    expect(t.get("r1")).toMatchObject({
      status: "rolled_back",
      errorCode: "ROTATION_VERIFY_FAILED",
      message: "the new key did not verify",
      finishedAt: later(1_000),
    });
  });

  it("marks a request skipped when the engine skipped it before a journal existed", () => {
    const t = new RotationTracker();
    queue(t, "r1");
    t.running("r1");
    t.onOutcome(skipped(undefined, "another replica holds the lease"), "r1", later(1_000));
    expect(t.get("r1")).toMatchObject({
      status: "skipped",
      message: "another replica holds the lease",
      finishedAt: later(1_000),
    });
  });

  it("shows a failed attempt that backs off as waiting for the retry, with the error and the time", () => {
    const t = new RotationTracker();
    queue(t, "r1");
    const retryAt = later(120_000);
    t.onOutcome({ ...failed("r1", true), retryAt } as RotationOutcome, "r1", later(1_000));
    expect(t.get("r1")).toMatchObject({
      status: "waiting",
      waitingFor: "retry",
      waitingUntil: retryAt,
      errorCode: "SALESFORCE_UNAVAILABLE",
      message: "Salesforce did not answer",
    });
    expect(t.get("r1")?.finishedAt).toBeUndefined();
  });

  it("says a rotation waits for a person, and forgets it once the rotation runs again", () => {
    const t = new RotationTracker();
    queue(t, "r1");
    t.onOutcome(waiting("r1", later(3_600_000), "confirm"), "r1", later(1_000));
    expect(t.get("r1")).toMatchObject({ status: "waiting", waitingFor: "confirm" });
    t.onEvent(event("r1", "published", { type: "rotation.resumed" }));
    expect(t.get("r1")).toMatchObject({ status: "running", waitingFor: undefined });
  });

  it("does not let a skipped resume undo a waiting rotation", () => {
    const t = new RotationTracker();
    queue(t, "r1");
    t.onOutcome(waiting("r1", later(60_000)), "r1", later(1_000));
    t.onOutcome(skipped("r1", "soaking"), undefined, later(2_000));
    expect(t.get("r1")?.status).toBe("waiting");
  });

  it("marks a request handed to an unknown rotation already under way as joined, naming that rotation", () => {
    const t = new RotationTracker();
    queue(t, "asked");
    t.running("asked");
    t.onOutcome(completed("existing"), "asked", later(1_000));
    expect(t.get("asked")).toMatchObject({
      status: "joined",
      joinedRotationId: "existing",
      message: "handed to the rotation already under way (existing)",
      finishedAt: later(1_000),
    });
  });

  it("marks a request joined when the rotation it joined emitted events here first", () => {
    // The engine resumes the existing journal and emits rotation.resumed with the existing id before it answers.
    const t = new RotationTracker();
    queue(t, "asked");
    t.running("asked");
    t.onEvent(event("existing", "staged", { type: "rotation.resumed" }));
    t.onOutcome(waiting("existing", later(60_000)), "asked", later(1_000));
    expect(t.get("asked")).toMatchObject({
      status: "joined",
      joinedRotationId: "existing",
      message: "handed to the rotation already under way (existing)",
    });
    expect(t.get("existing")).toMatchObject({
      status: "waiting",
      waitingUntil: later(60_000),
      waitingFor: "soak",
    });
    expect(t.activeFor(PATH)).toBeUndefined();
  });

  it("creates a view for a rotation it only hears about through audit events (a resume)", () => {
    const t = new RotationTracker();
    t.onEvent(event("other", "staged", { errorCode: "SALESFORCE_UNAVAILABLE" }));
    expect(t.get("other")).toMatchObject({
      status: "running",
      path: PATH,
      trigger: "schedule",
      actor: "scheduler",
      step: "staged",
      errorCode: "SALESFORCE_UNAVAILABLE",
      requestedAt: later(1_000),
    });
  });

  it("ignores outcomes that belong to no rotation it knows", () => {
    const t = new RotationTracker();
    t.onOutcome(skipped(undefined, "no unfinished rotation"), undefined, T0);
    t.onOutcome(completed("nobody"), undefined, T0);
    expect(t.recent(10)).toEqual([]);
  });

  it("lists recent rotations newest first and keeps at most 500", () => {
    const t = new RotationTracker();
    for (let i = 0; i < 505; i++) queue(t, `r${i}`, `${PATH}-${i}`, later(i));
    const recent = t.recent(1_000);
    expect(recent).toHaveLength(500);
    expect(recent[0]?.rotationId).toBe("r504");
    expect(recent.at(-1)?.rotationId).toBe("r5");
    expect(t.get("r4")).toBeUndefined();
    expect(t.recent(3).map((v) => v.rotationId)).toEqual(["r504", "r503", "r502"]);
  });

  it("hands out copies: changing a returned view changes nothing inside", () => {
    const t = new RotationTracker();
    queue(t, "r1");
    const v = t.get("r1") as { status: string };
    v.status = "completed";
    expect(t.get("r1")?.status).toBe("queued");
  });

  it("finds the queued or running rotation of a path, and none once it waits or ended", () => {
    const t = new RotationTracker();
    queue(t, "r1", PATH);
    queue(t, "r2", `${PATH}-other`);
    expect(t.activeFor(PATH)?.rotationId).toBe("r1");
    t.running("r1");
    expect(t.activeFor(PATH)?.rotationId).toBe("r1");
    t.onOutcome(waiting("r1", later(60_000)), "r1", later(1));
    expect(t.activeFor(PATH)).toBeUndefined();
    t.onOutcome(completed("r2"), "r2", later(2));
    expect(t.activeFor(`${PATH}-other`)).toBeUndefined();
    expect(t.activeFor("api-credentials/unknown")).toBeUndefined();
  });
});
