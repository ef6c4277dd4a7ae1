// The DaemonView the HTTP face reads (src/http/daemon-view.ts), over the running loop, tracker and Vault.

import type { HttpAuditSink } from "../adapters/audit/http-audit-sink.ts";
import { toEntry } from "../adapters/vault/kv-v2.ts";
import type { TokenSelf } from "../adapters/vault/vault-client.ts";
import type { AuditFanout } from "../app/audit-fanout.ts";
import type { VaultStack } from "../app/compose.ts";
import { classifyError } from "../core/errors.ts";
import { type ClassifyDefaults, classifyEntry } from "../core/inventory/classify.ts";
import { markRotationsWithoutJournal, summarizeReaders } from "../core/inventory/collect-inventory.ts";
import type { InventoryItem } from "../core/inventory/inventory-item.ts";
import { notRotatedMessage } from "../core/manual/manual-actions.ts";
import { isRotatedByEngine, PROVIDERS } from "../core/providers/provider-registry.ts";
import type { ReaderEvidence } from "../core/readers/readers.ts";
import { soaksForReaders } from "../core/rotation/readers-soak.ts";
import type { RotationStateStore } from "../core/rotation/rotation-ports.ts";
import type { Clock } from "../core/time.ts";
import { formatExactDuration } from "../core/time.ts";
import type {
  DaemonView,
  InventorySnapshot,
  ReadinessCheck,
  RotationRequest,
  RotationRequestResult,
  RotationView,
} from "../http/daemon-view.ts";
import type { DaemonMetrics } from "./metrics.ts";
import type { RotationLoop } from "./rotation-loop.ts";
import type { RotationTracker } from "./rotation-tracker.ts";

export interface DaemonViewDeps {
  readonly vault: VaultStack;
  readonly prefixes: readonly string[];
  readonly defaults: ClassifyDefaults;
  readonly state: RotationStateStore;
  readonly loop: RotationLoop;
  readonly tracker: RotationTracker;
  readonly audit: AuditFanout;
  /** The HTTP audit sink queues: its delivery failures happen after emit, so it reports its own health. */
  readonly httpAudit: HttpAuditSink | undefined;
  readonly metrics: DaemonMetrics;
  readonly clock: Clock;
  readonly scanIntervalMs: number;
  readonly ids: () => string;
  readonly snapshot: () => InventorySnapshot | undefined;
  /** serve's reader feed (undefined without `readers:`) and readers.window. */
  readonly readers?: ReaderEvidence | undefined;
  readonly readersWindowMs?: number | undefined;
}

export function createDaemonView(d: DaemonViewDeps): DaemonView {
  // A "." or ".." segment would be resolved in the request URL and read outside the prefixes (the HTTP routes
  // refuse such paths already; this port must not depend on that).
  const inScope = (path: string) =>
    !path.split("/").some((s) => s === "" || s === "." || s === "..") &&
    d.prefixes.some((p) => path === p || path.startsWith(`${p}/`));

  async function credential(path: string): Promise<InventoryItem | undefined> {
    if (!inScope(path)) return undefined;
    const meta = await d.vault.kv.readMetadata(path);
    if (meta === undefined) return undefined;
    const now = d.clock.now();
    const item = classifyEntry(toEntry(path, meta, now.getTime()), now, d.defaults);
    // As the scan shows it: a rotation the metadata claims with no journal here is another deployment's.
    const [marked] = await markRotationsWithoutJournal([item], new Set(), () => d.state.listJournals());
    const found = marked ?? item;
    if (d.readers === undefined) return found;
    try {
      const since = new Date(now.getTime() - (d.readersWindowMs ?? 0));
      return { ...found, readers: summarizeReaders(await d.readers.readersOf(path, since), found) };
    } catch {
      return found; // readers unknown while the shared entries cannot be read
    }
  }

  return {
    inventory: d.snapshot,
    credential,

    async requestRotation(path: string, req: RotationRequest): Promise<RotationRequestResult> {
      if (d.loop.stopping) return { status: "unavailable", message: "the rotator is stopping" };
      const busy = d.tracker.activeFor(path);
      if (busy !== undefined || d.loop.isBusy(path)) {
        return {
          status: "conflict",
          rotationId: busy?.rotationId,
          message: "a rotation of this credential is already queued or running here",
        };
      }
      const item = await credential(path);
      if (item === undefined) return { status: "not_found" };
      if (item.state === "unmanaged")
        return { status: "not_rotatable", message: "unmanaged: no provider in custom_metadata" };
      if (item.state === "invalid")
        return { status: "not_rotatable", message: `invalid metadata: ${item.reason ?? "?"}` };
      if (!isRotatedByEngine(item.provider)) {
        return {
          status: "not_rotatable",
          message: notRotatedMessage(item.provider),
        };
      }
      const journal = await d.state.readJournal(path);
      // A generated secret's dual-accept overlap: the request is the operator's word that the sender uses
      // the new secret, and the engine ends the overlap (the provider's onRepeatStart). Likewise a soak that
      // waits for its readers (soak_until=readers): the request promotes now.
      const provider = journal === undefined ? undefined : PROVIDERS.get(journal.value.provider);
      const confirms =
        journal !== undefined &&
        journal.value.mode === "standard" &&
        journal.value.step === "published" &&
        (provider?.flagEndsOverlap === true ||
          (provider?.readersSoak === true && soaksForReaders(journal.value)));
      if (journal !== undefined && !confirms) {
        return {
          status: "conflict",
          rotationId: journal.value.rotationId,
          message: `a rotation is already under way (step ${journal.value.step})`,
        };
      }
      const rotationId = confirms && journal !== undefined ? journal.value.rotationId : d.ids();
      const accepted = d.loop.requestStart(path, rotationId, {
        mode: req.mode === "emergency" ? "emergency" : "standard",
        trigger: "http",
        actor: req.actor,
        reason: req.reason,
      });
      if (!accepted) {
        return d.loop.stopping
          ? { status: "unavailable", message: "the rotator is stopping" }
          : {
              // Another request for the path got in while this one read Vault.
              status: "conflict",
              rotationId: d.tracker.activeFor(path)?.rotationId,
              message: "a rotation of this credential is already queued",
            };
      }
      return { status: "accepted", rotationId };
    },

    async rotation(id: string): Promise<RotationView | undefined> {
      const known = d.tracker.get(id);
      if (known !== undefined) return known;
      // Another replica's rotation: its journal says how far it got (only while it is unfinished).
      for await (const path of d.state.listJournals()) {
        const j = await d.state.readJournal(path);
        if (j?.value.rotationId !== id) continue;
        const r = j.value;
        return {
          rotationId: r.rotationId,
          path: r.path,
          mode: r.mode,
          // A standard journal at published waits: for the soak, or (generated) for an operator's confirmation.
          status:
            r.step === "failed"
              ? "failed"
              : r.promoteAfter !== undefined || (r.mode === "standard" && r.step === "published")
                ? "waiting"
                : "running",
          step: r.step,
          trigger: r.trigger,
          actor: r.actor,
          requestedAt: r.startedAt,
          waitingUntil: r.promoteAfter,
        };
      }
      return undefined;
    },

    recentRotations: (limit) => d.tracker.recent(limit),

    async readiness(): Promise<readonly ReadinessCheck[]> {
      const checks: ReadinessCheck[] = [];
      try {
        const self = await d.vault.client.lookupSelf();
        checks.push({ name: "vault", ok: true, detail: `reachable, token valid${ttlText(self)}` });
      } catch (err) {
        checks.push({
          name: "vault",
          ok: false,
          detail: `unreachable or token refused (${classifyError(err)})`,
        });
      }
      const scan = d.loop.lastScan;
      const now = d.clock.now().getTime();
      // Three intervals of grace: one slow scan is not an outage, three missed ones are.
      const limit = 3 * d.scanIntervalMs + 30_000;
      if (scan.at === undefined) {
        checks.push({
          name: "scan",
          ok: false,
          detail:
            scan.error === undefined
              ? "no scan has finished yet"
              : `the scan failed (${classifyError(scan.error)})`,
        });
      } else {
        const age = now - scan.at.getTime();
        const fresh = age <= limit;
        const why =
          scan.error === undefined ? "" : `; the last attempt failed (${classifyError(scan.error)})`;
        checks.push({
          name: "scan",
          ok: fresh,
          detail: `last scan ${formatExactDuration(Math.max(0, age))} ago${fresh ? "" : " (too old)"}${why}`,
        });
      }
      for (const sink of d.audit.health()) {
        if (sink.name === "http" && d.httpAudit !== undefined) {
          const h = d.httpAudit.health();
          const ok = h.ok;
          checks.push({
            name: "audit:http",
            ok,
            detail: ok
              ? `healthy (${h.queued} queued, ${h.failures} failures so far)`
              : `failing: ${h.failures} failures, last ${h.lastError ?? "?"}, ${h.queued} queued`,
          });
          continue;
        }
        checks.push({
          name: `audit:${sink.name}`,
          ok: sink.ok,
          detail: sink.ok
            ? `healthy (${sink.failures} failures so far)`
            : `failing: ${sink.failures} failures, last ${sink.lastError ?? "?"}`,
        });
      }
      return checks;
    },

    metrics: () => d.metrics.text(),
  };
}

function ttlText(self: TokenSelf): string {
  // A root or periodic token without expiry has TTL 0.
  return self.ttlSeconds > 0 ? `, ${formatExactDuration(self.ttlSeconds * 1000)} left` : "";
}
