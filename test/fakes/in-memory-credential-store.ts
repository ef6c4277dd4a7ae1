// CredentialStore for unit tests, with KV v2's semantics as the port fixes them: every write is a new version
// merged over the current one, made only when `expectedVersion` is the current version (VAULT_CAS_CONFLICT
// otherwise); custom_metadata is merge-patched (null removes a key) and is not versioned; entries without a
// `provider` are never written (VAULT_NOT_MANAGED). Secret-looking fields come back as SecretValue, as the Vault
// adapter returns them. failNext(method, error, { commit }) injects a
// fault before the effect, or after it (the write happened, the answer was lost).
import { RotatorError } from "../../src/core/errors.ts";
import type { CredentialStore, StoredCredential } from "../../src/core/rotation/rotation-ports.ts";
import { SecretValue } from "../../src/core/secret-value.ts";

type Method = keyof CredentialStore;

interface Entry {
  versions: Record<string, string>[];
  metadata: Record<string, string>;
  /** The current version was soft-deleted (`kv delete`). */
  currentDeleted: boolean;
}

const NEVER_SECRET = new Set(["client_id", "previous_client_id"]);
const SECRET_NAME = /secret|key|password|token|private/i;

export class InMemoryCredentialStore implements CredentialStore {
  readonly #entries = new Map<string, Entry>();
  readonly #faults = new Map<Method, { error: Error; commit: boolean }[]>();
  readonly calls: Method[] = [];

  /** Seeds (or overwrites, as a person would) an entry: a new version with exactly these fields. */
  put(path: string, data: Record<string, string>, metadata?: Record<string, string>): number {
    const entry = this.#entries.get(path) ?? { versions: [], metadata: {}, currentDeleted: false };
    entry.versions.push({ ...data });
    entry.currentDeleted = false;
    if (metadata !== undefined) entry.metadata = { ...metadata };
    this.#entries.set(path, entry);
    return entry.versions.length;
  }

  /** What `kv delete` does: the current version is soft-deleted and reads as absent. */
  deleteCurrentVersion(path: string): void {
    const entry = this.#entries.get(path);
    if (entry !== undefined) entry.currentDeleted = true;
  }

  /** A person editing metadata directly (merge, null removes). */
  patchByHand(path: string, patch: Record<string, string | null>): void {
    const entry = this.#entries.get(path);
    if (entry === undefined) throw new Error(`no entry at ${path}`);
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete entry.metadata[k];
      else entry.metadata[k] = v;
    }
  }

  failNext(method: Method, error: Error, opts: { commit?: boolean; times?: number } = {}): void {
    const list = this.#faults.get(method) ?? [];
    for (let i = 0; i < (opts.times ?? 1); i++) list.push({ error, commit: opts.commit ?? false });
    this.#faults.set(method, list);
  }

  /** Plain strings of the current version (secrets revealed): for assertions only. */
  current(path: string): { version: number; data: Record<string, string>; metadata: Record<string, string> } {
    const entry = this.#entries.get(path);
    const data = entry?.versions.at(-1);
    if (entry === undefined || data === undefined || entry.currentDeleted)
      throw new Error(`no entry at ${path}`);
    return { version: entry.versions.length, data: { ...data }, metadata: { ...entry.metadata } };
  }

  /** The entry's custom metadata (not versioned: readable while the current version is deleted). */
  metadata(path: string): Record<string, string> {
    const entry = this.#entries.get(path);
    if (entry === undefined) throw new Error(`no entry at ${path}`);
    return { ...entry.metadata };
  }

  /** Every version's fields (1-based index = version). */
  history(path: string): Record<string, string>[] {
    return structuredClone(this.#entries.get(path)?.versions ?? []);
  }

  snapshot(): unknown {
    return structuredClone(Object.fromEntries(this.#entries));
  }

  async read(path: string): Promise<StoredCredential | undefined> {
    this.calls.push("read");
    return this.#run("read", () => {
      const entry = this.#entries.get(path);
      const data = entry?.versions.at(-1);
      if (entry === undefined || data === undefined || entry.currentDeleted) return undefined;
      const out: Record<string, string | SecretValue> = {};
      for (const [k, v] of Object.entries(data)) out[k] = isSecretField(k) ? SecretValue.of(v) : v;
      return { version: entry.versions.length, data: out, customMetadata: { ...entry.metadata } };
    });
  }

  async writeFields(
    path: string,
    fields: Readonly<Record<string, string | SecretValue>>,
    expectedVersion: number,
  ): Promise<{ version: number }> {
    this.calls.push("writeFields");
    return this.#run("writeFields", () => {
      const entry = this.#managed(path);
      if (entry.versions.length !== expectedVersion) {
        throw new RotatorError(
          "VAULT_CAS_CONFLICT",
          `"${path}" changed: expected version ${expectedVersion}`,
          {
            context: { path, expectedVersion, currentVersion: entry.versions.length },
          },
        );
      }
      if (entry.currentDeleted) {
        // As the Vault adapter: nothing is merged over a deleted version (its data is gone).
        throw new RotatorError(
          "VAULT_NOT_FOUND",
          `cannot write "${path}": version ${expectedVersion} is deleted or destroyed`,
          { context: { path } },
        );
      }
      const next = { ...(entry.versions.at(-1) ?? {}) };
      for (const [k, v] of Object.entries(fields)) next[k] = typeof v === "string" ? v : v.reveal();
      entry.versions.push(next);
      return { version: entry.versions.length };
    });
  }

  async patchMetadata(path: string, patch: Readonly<Record<string, string | null>>): Promise<void> {
    this.calls.push("patchMetadata");
    return this.#run("patchMetadata", () => this.#patch(path, patch));
  }

  #managed(path: string): Entry {
    const entry = this.#entries.get(path);
    if (entry === undefined) throw new RotatorError("VAULT_NOT_FOUND", `no entry at "${path}"`);
    if (entry.metadata["provider"] === undefined) {
      throw new RotatorError("VAULT_NOT_MANAGED", `"${path}" is not a managed credential`, {
        context: { path },
      });
    }
    return entry;
  }

  #patch(path: string, patch: Readonly<Record<string, string | null>>): void {
    const entry = this.#managed(path);
    if (Object.hasOwn(patch, "provider")) throw new RotatorError("VAULT_NOT_MANAGED", "provider is not ours");
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete entry.metadata[k];
      else entry.metadata[k] = v;
    }
  }

  #run<T>(method: Method, effect: () => T): T {
    const fault = this.#faults.get(method)?.shift();
    if (fault === undefined) return effect();
    if (fault.commit) effect();
    throw fault.error;
  }
}

function isSecretField(name: string): boolean {
  return !NEVER_SECRET.has(name) && SECRET_NAME.test(name);
}
