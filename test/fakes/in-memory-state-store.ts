// RotationStateStore for unit tests: one journal record and one lease per credential path, each a versioned
// entry written with check-and-set (cas 0 creates; VAULT_CAS_CONFLICT when the version moved on). Records are
// stored the way the Vault adapter stores them, as KV string fields (toJournalFields / parseJournalFields), so
// a round trip through the fake loses exactly what a round trip through Vault would.
import { RotatorError } from "../../src/core/errors.ts";
import {
  type JournalRecord,
  parseJournalFields,
  toJournalFields,
} from "../../src/core/rotation/journal-record.ts";
import type {
  ConsumerOwner,
  Lease,
  RotationStateStore,
  Versioned,
} from "../../src/core/rotation/rotation-ports.ts";

type Method = keyof RotationStateStore;

interface Slot<T> {
  value: T;
  version: number;
}

export class InMemoryStateStore implements RotationStateStore {
  readonly #journals = new Map<string, Slot<Record<string, string>>>();
  readonly #leases = new Map<string, Slot<Lease>>();
  readonly #owners = new Map<string, Slot<ConsumerOwner>>();
  readonly #faults = new Map<Method, { error: Error; commit: boolean }[]>();
  readonly calls: Method[] = [];

  failNext(method: Method, error: Error, opts: { commit?: boolean; times?: number } = {}): void {
    const list = this.#faults.get(method) ?? [];
    for (let i = 0; i < (opts.times ?? 1); i++) list.push({ error, commit: opts.commit ?? false });
    this.#faults.set(method, list);
  }

  /** The stored KV fields of a journal (secret revealed, as Vault holds it). */
  rawJournal(path: string): Record<string, string> | undefined {
    const slot = this.#journals.get(path);
    return slot === undefined ? undefined : { ...slot.value };
  }

  /** Puts raw fields as a journal (e.g. a corrupt record). */
  putRawJournal(path: string, fields: Record<string, string>): void {
    const version = (this.#journals.get(path)?.version ?? 0) + 1;
    this.#journals.set(path, { value: { ...fields }, version });
  }

  journal(path: string): JournalRecord | undefined {
    const raw = this.#journals.get(path);
    if (raw === undefined) return undefined;
    const parsed = parseJournalFields(raw.value);
    if (!parsed.ok) throw new Error(parsed.reason);
    return parsed.record;
  }

  lease(path: string): Lease | undefined {
    return this.#leases.get(path)?.value;
  }

  /** Another replica's write to a lease, bypassing cas (for stale-owner tests). */
  putLease(path: string, lease: Lease): void {
    const version = (this.#leases.get(path)?.version ?? 0) + 1;
    this.#leases.set(path, { value: { ...lease }, version });
  }

  /** Every owner record by consumer key. */
  owners(): Record<string, ConsumerOwner> {
    return Object.fromEntries([...this.#owners].map(([k, slot]) => [k, { ...slot.value }]));
  }

  snapshot(): unknown {
    return structuredClone({
      journals: Object.fromEntries(this.#journals),
      leases: Object.fromEntries(this.#leases),
      owners: Object.fromEntries(this.#owners),
    });
  }

  async readJournal(path: string): Promise<Versioned<JournalRecord> | undefined> {
    this.calls.push("readJournal");
    return this.#run("readJournal", () => {
      const slot = this.#journals.get(path);
      if (slot === undefined) return undefined;
      const parsed = parseJournalFields(slot.value);
      if (!parsed.ok)
        throw new RotatorError("ROTATION_JOURNAL_CORRUPT", parsed.reason, { context: { path } });
      return { value: parsed.record, version: slot.version };
    });
  }

  async writeJournal(path: string, record: JournalRecord, cas: number): Promise<number> {
    this.calls.push("writeJournal");
    return this.#run("writeJournal", () => {
      const version = checkCas(this.#journals.get(path), path, cas);
      const fields: Record<string, string> = {};
      for (const [k, v] of Object.entries(toJournalFields(record)))
        fields[k] = typeof v === "string" ? v : v.reveal();
      this.#journals.set(path, { value: fields, version });
      return version;
    });
  }

  async deleteJournal(path: string): Promise<void> {
    this.calls.push("deleteJournal");
    return this.#run("deleteJournal", () => {
      this.#journals.delete(path);
    });
  }

  async *listJournals(): AsyncIterable<string> {
    this.calls.push("listJournals");
    const paths = this.#run("listJournals", () => [...this.#journals.keys()].sort());
    for (const p of paths) yield p;
  }

  async readLease(path: string): Promise<Versioned<Lease> | undefined> {
    this.calls.push("readLease");
    return this.#run("readLease", () => {
      const slot = this.#leases.get(path);
      return slot === undefined ? undefined : { value: { ...slot.value }, version: slot.version };
    });
  }

  async writeLease(path: string, lease: Lease, cas: number): Promise<number> {
    this.calls.push("writeLease");
    return this.#run("writeLease", () => {
      const version = checkCas(this.#leases.get(path), path, cas);
      this.#leases.set(path, { value: { ...lease }, version });
      return version;
    });
  }

  async deleteLease(path: string): Promise<void> {
    this.calls.push("deleteLease");
    return this.#run("deleteLease", () => {
      this.#leases.delete(path);
    });
  }

  async readOwner(key: string): Promise<Versioned<ConsumerOwner> | undefined> {
    this.calls.push("readOwner");
    return this.#run("readOwner", () => {
      const slot = this.#owners.get(key);
      return slot === undefined ? undefined : { value: { ...slot.value }, version: slot.version };
    });
  }

  async writeOwner(key: string, owner: ConsumerOwner, cas: number): Promise<number> {
    this.calls.push("writeOwner");
    return this.#run("writeOwner", () => {
      const version = checkCas(this.#owners.get(key), key, cas);
      this.#owners.set(key, { value: { ...owner }, version });
      return version;
    });
  }

  #run<T>(method: Method, effect: () => T): T {
    const fault = this.#faults.get(method)?.shift();
    if (fault === undefined) return effect();
    if (fault.commit) effect();
    throw fault.error;
  }
}

/** KV v2 cas: 0 creates (the key must not exist), n updates version n. Returns the new version. */
function checkCas(slot: Slot<unknown> | undefined, path: string, cas: number): number {
  const current = slot?.version ?? 0;
  if (cas !== current) {
    throw new RotatorError("VAULT_CAS_CONFLICT", `state entry for "${path}" changed`, {
      context: { path, expectedVersion: cas, currentVersion: current },
    });
  }
  return current + 1;
}
