// What a provider supplies to the shared engine. The engine owns the lease, the journal (cas + fence), the drive
// loop, failure handling (counted attempts, rollback before the point of no return, parking), audit, chat and
// outcomes; a provider owns what is specific to its credentials: which policies it accepts, its state machine
// and step functions per mode, its waits, its dry-run checks and the words of its refusals. Providers live in
// src/core/providers/<name>/; the composition root hands the engine a ProviderSet, looked up by the journal's (or
// the metadata's) `provider`. The engine imports no provider.
import { RotatorError } from "../errors.ts";
import type { CredentialPolicy } from "../inventory/credential-policy.ts";
import type { InventoryItem } from "../inventory/inventory-item.ts";
import type { Provider } from "../inventory/policy-fields.ts";
import { notRotatedMessage } from "../manual/manual-actions.ts";
import type { ConsumerIdentity } from "./consumer-owner.ts";
import type { RotationEngineDeps } from "./engine-deps.ts";
import type { JournalRecord } from "./journal-record.ts";
import { managedPolicy } from "./managed-policy.ts";
import type { StartOptions } from "./rotation-engine.ts";
import type { PlanCheck } from "./rotation-plan.ts";
import type { StoredCredential } from "./rotation-ports.ts";
import type { JournalChanges } from "./rotation-run.ts";
import type { RotationMode, RotationStep, StepMachine } from "./rotation-state.ts";
import type { StepFunction } from "./steps/step-result.ts";

/** retry: a failed attempt backs off until the next one may run (journal retry_after). */
export type WaitKind = "soak" | "retire" | "confirm" | "retry";

export interface PlanWait {
  readonly soakMs: number;
  /** One line for people, e.g. "soak: 15m between publishing and promoting". */
  readonly text: string;
}

/**
 * Work the scan's metadata cannot show (sfmc: a secret an operator pasted into pending_api_key): which entries are
 * worth one data read, and whether what that read found starts a rotation. The scan runs it for every provider
 * that has one, after the flags and deadlines.
 */
export interface ProviderPickup {
  /** What the data read looks for, in messages (e.g. "pending_api_key"). */
  readonly looksFor: string;
  /** From metadata alone; `hasJournal`: an unfinished rotation exists (it is resumed, never restarted). */
  mayHaveWork(item: InventoryItem, hasJournal: boolean): boolean;
  /** From the entry's data, read once; undefined: nothing to start. The secret is not kept. */
  decide(cred: StoredCredential): { readonly mode: RotationMode; readonly reason: string } | undefined;
}

export interface RotationProvider {
  readonly name: Provider;
  readonly machine: StepMachine;
  /**
   * Throws POLICY_INVALID (final) when this policy cannot be rotated by the provider, e.g. it chooses no
   * configured destination this path may use; the parser checked the rest.
   */
  checkPolicy(policy: CredentialPolicy, path: string, deps: RotationEngineDeps): void;
  /**
   * The provider's fields of a new `claimed` journal, from the credential as read at claim time (e.g. the
   * destination its secrets go to, pinned for the whole rotation).
   */
  claimFields(
    cred: StoredCredential,
    policy: CredentialPolicy,
    deps: RotationEngineDeps,
    path: string,
  ): JournalChanges;
  /** The function that moves a journal on from `step`; undefined for `failed`. */
  stepFunction(mode: RotationMode, step: RotationStep): StepFunction | undefined;
  /** A wait that the journal alone shows (resume's peek, without the lease). */
  waitingFor(r: JournalRecord, deps: RotationEngineDeps): { waiting: WaitKind; until: Date } | undefined;
  /**
   * start() found an unfinished journal of this provider: what the new request changes in it, and whether that
   * used up the operator's flag (it ended a wait it was meant to end). A flag not used up survives the rotation's
   * close and starts a new one (an emergency asked for after promotion, say).
   */
  onRepeatStart(
    r: JournalRecord,
    opts: StartOptions,
    now: Date,
  ): { readonly changes: JournalChanges; readonly usesFlag: boolean };
  /** True when rotate=now during the overlap (awaiting_promotion) is the operator's go-ahead to end it. */
  readonly flagEndsOverlap: boolean;
  /** false: only an operator's flag starts a rotation; deadlines only remind (assisted providers such as sfmc). */
  readonly startsOnSchedule?: false;
  readonly pickup?: ProviderPickup;
  /** Why `rollback` is refused for a journal at `at`. */
  rollbackRefusal(mode: RotationMode, at: RotationStep | undefined): string;
  /** The last sentence of a failure notice: what was changed and what to do. */
  failureAdvice(mode: RotationMode, step: RotationStep, abandoned: boolean): string;
  /** Dry run: the soak a rotation in `mode` would wait, and what the wait is, in the provider's words. */
  planWait(policy: CredentialPolicy, mode: RotationMode, deps: RotationEngineDeps): PlanWait;
  /**
   * The external consumer the credential names, for the one-owner rule (consumer-owner.ts), and how to prove
   * that the path holds its working secret (throws ROTATION_POSSESSION_UNPROVEN when it does not). Reads only.
   * Absent for providers with no external consumer (generated: the rotator makes the secret itself).
   */
  consumerOf?(
    deps: RotationEngineDeps,
    path: string,
    cred: StoredCredential,
    policy: CredentialPolicy,
  ): Promise<{ readonly consumer: ConsumerIdentity; prove(): Promise<void> }>;
  /** Dry run: the provider's own read-only checks. */
  planChecks(
    deps: RotationEngineDeps,
    path: string,
    cred: StoredCredential,
    add: (name: PlanCheck["name"], ok: boolean, detail: string) => void,
  ): Promise<void>;
}

/** The providers one engine rotates, by name. manual is tracked but never rotated: it is never in a set. */
export class ProviderSet {
  readonly #byName: ReadonlyMap<string, RotationProvider>;

  constructor(providers: readonly RotationProvider[]) {
    this.#byName = new Map(providers.map((p) => [p.name, p]));
  }

  /** The provider that rotates credentials of this `provider` value; undefined when the engine does not. */
  get(name: string | undefined): RotationProvider | undefined {
    return name === undefined ? undefined : this.#byName.get(name);
  }

  rotates(name: string | undefined): boolean {
    return this.get(name) !== undefined;
  }

  /** The pickup of the entry's provider, when it has one and the entry may hold work for it. */
  pickupFor(item: InventoryItem, hasJournal: boolean): ProviderPickup | undefined {
    const pickup = this.get(item.provider)?.pickup;
    return pickup?.mayHaveWork(item, hasJournal) === true ? pickup : undefined;
  }

  /** The journal's provider; a journal naming one this engine does not know is corrupt, never guessed at. */
  forJournal(name: string, path: string): RotationProvider {
    const p = this.#byName.get(name);
    if (p === undefined) {
      throw new RotatorError(
        "ROTATION_JOURNAL_CORRUPT",
        `the journal names provider "${name}", which the engine does not rotate`,
        { context: { path } },
      );
    }
    return p;
  }

  /** The credential's policy and provider, when the engine may rotate it; why not otherwise (a final error). */
  rotatable(
    cred: StoredCredential,
    path: string,
    deps: RotationEngineDeps,
  ): { policy: CredentialPolicy; provider: RotationProvider } {
    const policy = managedPolicy(cred, path);
    const provider = this.get(policy.provider);
    if (provider === undefined) {
      throw new RotatorError("POLICY_INVALID", notRotatedMessage(policy.provider), { context: { path } });
    }
    provider.checkPolicy(policy, path, deps);
    return { policy, provider };
  }
}
