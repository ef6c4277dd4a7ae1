// An in-memory DaemonView for the HTTP tests: the test sets the snapshot, readiness, rotations and the
// answer to requestRotation, and reads back every rotation request it received. `fail` makes one method
// throw, to prove the server never echoes an unknown error.

import type { CredentialState, InventoryItem } from "../../src/core/inventory/inventory-item.ts";
import type {
  DaemonView,
  InventorySnapshot,
  ReadinessCheck,
  RotationRequest,
  RotationRequestResult,
  RotationView,
} from "../../src/http/daemon-view.ts";

type Method = keyof DaemonView;

export class FakeDaemonView implements DaemonView {
  snapshot: InventorySnapshot | undefined;
  /** Fresh reads by credential(); defaults to the snapshot's items. */
  credentials: Map<string, InventoryItem> | undefined;
  checks: ReadinessCheck[] = [{ name: "vault", ok: true, detail: "token valid" }];
  rotations: RotationView[] = [];
  rotationResult: (path: string, request: RotationRequest) => RotationRequestResult = () => ({
    status: "accepted",
    rotationId: "00000000-0000-4000-8000-000000000001",
  });
  metricsText = "# HELP rotator_up 1 when up\n# TYPE rotator_up gauge\nrotator_up 1\n";
  readonly rotationRequests: Array<{ path: string; request: RotationRequest }> = [];
  readonly #failing = new Map<Method, Error>();

  /** Every later call of `method` throws `error`. */
  fail(method: Method, error: Error): void {
    this.#failing.set(method, error);
  }

  setItems(items: readonly InventoryItem[], scannedAt = new Date("2026-05-01T12:00:00Z")): void {
    this.snapshot = { scannedAt, items };
  }

  inventory(): InventorySnapshot | undefined {
    this.#maybeFail("inventory");
    return this.snapshot;
  }

  async credential(path: string): Promise<InventoryItem | undefined> {
    this.#maybeFail("credential");
    if (this.credentials !== undefined) return this.credentials.get(path);
    return this.snapshot?.items.find((i) => i.path === path);
  }

  async requestRotation(path: string, request: RotationRequest): Promise<RotationRequestResult> {
    this.#maybeFail("requestRotation");
    this.rotationRequests.push({ path, request });
    return this.rotationResult(path, request);
  }

  async rotation(id: string): Promise<RotationView | undefined> {
    this.#maybeFail("rotation");
    return this.rotations.find((r) => r.rotationId === id);
  }

  recentRotations(limit: number): readonly RotationView[] {
    this.#maybeFail("recentRotations");
    return this.rotations.slice(0, limit);
  }

  async readiness(): Promise<readonly ReadinessCheck[]> {
    this.#maybeFail("readiness");
    return this.checks;
  }

  async metrics(): Promise<{ readonly contentType: string; readonly body: string }> {
    this.#maybeFail("metrics");
    return { contentType: "text/plain; version=0.0.4; charset=utf-8", body: this.metricsText };
  }

  #maybeFail(method: Method): void {
    const error = this.#failing.get(method);
    if (error !== undefined) throw error;
  }
}

/** An inventory row with plausible defaults for its state. */
export function inventoryItem(
  path: string,
  state: CredentialState,
  overrides: Partial<Omit<InventoryItem, "path" | "state">> = {},
): InventoryItem {
  return {
    path,
    state,
    provider: state === "unmanaged" ? undefined : "salesforce-eca",
    consumers: [],
    stuck: false,
    ...overrides,
  };
}

export function rotationView(
  overrides: Partial<RotationView> & Pick<RotationView, "rotationId">,
): RotationView {
  return {
    path: "api-credentials/acme/prod",
    mode: "standard",
    status: "completed",
    trigger: "schedule",
    actor: "scheduler",
    requestedAt: new Date("2026-05-01T11:00:00Z"),
    ...overrides,
  };
}
