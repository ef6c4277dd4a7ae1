// What the HTTP face needs from the running daemon, as a port: the routes and the status page read the last
// scan and ask for rotations through this interface only, so they are tested with an in-memory fake and the
// daemon (src/daemon) implements it over the real scheduler, Vault and engine. Nothing here holds a secret.
import type { InventoryItem } from "../core/inventory/inventory-item.ts";
import type { WaitKind } from "../core/rotation/rotation-outcome.ts";
import type { RotationMode, RotationTrigger } from "../core/rotation/rotation-state.ts";

/** The last completed scan; undefined until the first one finishes. */
export interface InventorySnapshot {
  readonly scannedAt: Date;
  readonly items: readonly InventoryItem[];
}

/** One rotation the daemon knows of (started here, or found in the journal). */
export interface RotationView {
  readonly rotationId: string;
  readonly path: string;
  readonly mode: RotationMode;
  /**
   * running: in flight in this process; waiting: soaking, before retirement, or for a person (waitingFor); the
   * rest are final. joined: the request was handed to the rotation already under way (joinedRotationId), e.g. an
   * operator's confirmation that ended its wait.
   */
  readonly status:
    | "queued"
    | "running"
    | "waiting"
    | "completed"
    | "failed"
    | "rolled_back"
    | "skipped"
    | "joined";
  readonly step?: string | undefined;
  readonly trigger: RotationTrigger;
  readonly actor: string;
  readonly requestedAt: Date;
  readonly finishedAt?: Date | undefined;
  /** Soak or retire wait end, for status waiting; for a wait on a person (confirm), when it is looked at again. */
  readonly waitingUntil?: Date | undefined;
  /** What a waiting rotation waits for: its soak, the old pair's retirement, or a person (confirm). */
  readonly waitingFor?: WaitKind | undefined;
  /** status joined: the rotation that took the request over. */
  readonly joinedRotationId?: string | undefined;
  readonly errorCode?: string | undefined;
  /** Public words (never a secret). */
  readonly message?: string | undefined;
}

export type RotationRequest = {
  readonly mode: "now" | "emergency";
  readonly reason: string | undefined;
  /** "http:<token name>"; never the token. */
  readonly actor: string;
};

export type RotationRequestResult =
  | { readonly status: "accepted"; readonly rotationId: string }
  /** A rotation of this credential is already running (here or in another replica). */
  | { readonly status: "conflict"; readonly rotationId: string | undefined; readonly message: string }
  | { readonly status: "not_found" }
  /** Exists but cannot be rotated (unmanaged, invalid metadata, other provider): message says why. */
  | { readonly status: "not_rotatable"; readonly message: string }
  /** The daemon is shutting down and takes no new work. */
  | { readonly status: "unavailable"; readonly message: string };

export interface ReadinessCheck {
  /** Closed set: "vault", "scan", "audit:<sink name>". */
  readonly name: string;
  readonly ok: boolean;
  /** Short public words: "token valid", "last scan 12 s ago", "3 failures, last VAULT_UNAVAILABLE". */
  readonly detail: string;
}

export interface DaemonView {
  inventory(): InventorySnapshot | undefined;
  /** A fresh read of one credential's metadata (classified now); undefined when there is no such entry. */
  credential(path: string): Promise<InventoryItem | undefined>;
  requestRotation(path: string, request: RotationRequest): Promise<RotationRequestResult>;
  rotation(id: string): Promise<RotationView | undefined>;
  /** Recent rotations, newest first (for the status page). */
  recentRotations(limit: number): readonly RotationView[];
  readiness(): Promise<readonly ReadinessCheck[]>;
  /** Prometheus text exposition. */
  metrics(): Promise<{ readonly contentType: string; readonly body: string }>;
}
