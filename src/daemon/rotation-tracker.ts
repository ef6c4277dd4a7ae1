// What this replica knows of rotations, for GET /v1/rotations/{id} and the status page: every rotation it
// queued, started or resumed, kept in memory (the newest 500). Steps come from the audit events the engine
// emits (the tracker sits in front of the audit sinks); the final status from the engine's outcome.

import type { RotationOutcome } from "../core/rotation/rotation-outcome.ts";
import type { AuditEvent } from "../core/rotation/rotation-state.ts";
import type { RotationView } from "../http/daemon-view.ts";

const KEEP = 500;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export class RotationTracker {
  readonly #byId = new Map<string, Mutable<RotationView>>();

  /** A rotation this replica is about to start (the HTTP API knows its id before the engine runs). */
  queued(view: Omit<RotationView, "status">): void {
    this.#put({ ...view, status: "queued" });
  }

  running(rotationId: string): void {
    const v = this.#byId.get(rotationId);
    if (v !== undefined && v.status === "queued") v.status = "running";
  }

  /** Called for every audit event, before the sinks. */
  onEvent(event: AuditEvent): void {
    const existing = this.#byId.get(event.rotationId);
    // A recorded manual rotation is over when it is announced: nothing to track.
    if (event.trigger === "manual") return;
    const trigger = event.trigger;
    const view =
      existing ??
      this.#put({
        rotationId: event.rotationId,
        path: event.path,
        mode: event.mode,
        status: "running",
        trigger,
        actor: event.actor,
        requestedAt: new Date(event.time),
      });
    view.step = event.step;
    if (view.status === "queued" || view.status === "waiting") {
      view.status = "running";
      view.waitingFor = undefined;
    }
    if (event.errorCode !== undefined) view.errorCode = event.errorCode;
  }

  /** The engine's answer for a call that belonged to `rotationId` (the requested one, or the outcome's own). */
  onOutcome(outcome: RotationOutcome, requestedId: string | undefined, at: Date): void {
    const id = outcome.rotationId ?? requestedId;
    if (id === undefined) return;
    if (requestedId !== undefined && requestedId !== id) {
      // The engine carried on with an existing rotation instead of the one asked for: say so on the request,
      // which is closed here (left running, it would block every later request for the path). The outcome
      // belongs to the existing rotation, whether or not its events already made a view of it here.
      const asked = this.#byId.get(requestedId);
      if (asked !== undefined && (asked.status === "queued" || asked.status === "running")) {
        asked.status = "joined";
        asked.joinedRotationId = id;
        asked.message = `handed to the rotation already under way (${id})`;
        asked.finishedAt = at;
      }
    }
    const view = this.#byId.get(id);
    if (view === undefined) return;
    switch (outcome.kind) {
      case "completed":
        view.status = "completed";
        view.finishedAt = at;
        break;
      case "waiting":
        view.status = "waiting";
        view.waitingUntil = outcome.until;
        view.waitingFor = outcome.waiting;
        view.step = outcome.step;
        // A soak waiting for readers says who has moved and who not (a retry's old message goes).
        view.message = outcome.detail;
        break;
      case "rolled_back":
        view.status = "rolled_back";
        view.finishedAt = at;
        view.message = outcome.message;
        if (outcome.code !== undefined) view.errorCode = outcome.code;
        break;
      case "failed":
        // A failure the engine will retry leaves the rotation open: it is waiting for the next attempt.
        view.status = outcome.willRetry ? "waiting" : "failed";
        if (!outcome.willRetry) view.finishedAt = at;
        if (outcome.willRetry && outcome.retryAt !== undefined) {
          view.waitingFor = "retry";
          view.waitingUntil = outcome.retryAt;
        }
        view.errorCode = outcome.code;
        view.message = outcome.message;
        break;
      case "skipped":
        if (view.status === "queued" || view.status === "running") {
          view.status = "skipped";
          view.finishedAt = at;
          view.message = outcome.reason;
        }
        break;
    }
  }

  get(rotationId: string): RotationView | undefined {
    const v = this.#byId.get(rotationId);
    return v === undefined ? undefined : { ...v };
  }

  /** The newest first. */
  recent(limit: number): RotationView[] {
    return [...this.#byId.values()]
      .reverse()
      .slice(0, limit)
      .map((v) => ({ ...v }));
  }

  /** A queued or running rotation of this path in this replica. */
  activeFor(path: string): RotationView | undefined {
    for (const v of this.#byId.values()) {
      if (v.path === path && (v.status === "queued" || v.status === "running")) return { ...v };
    }
    return undefined;
  }

  #put(view: Mutable<RotationView>): Mutable<RotationView> {
    this.#byId.delete(view.rotationId);
    this.#byId.set(view.rotationId, view);
    while (this.#byId.size > KEEP) {
      const oldest = this.#byId.keys().next().value;
      if (oldest === undefined) break;
      this.#byId.delete(oldest);
    }
    return view;
  }
}
