// CredentialStore (rotation-ports.ts) on KV v2: the managed credential's current version and custom_metadata.
// Writes go only to managed credentials (custom_metadata has `provider`, and the path lies under one of the
// configured prefixes when prefixes are given): VAULT_NOT_MANAGED otherwise. Secrets are revealed only here,
// at the wire.
//
// Data writes: KV PATCH with cas (a merge patch, so fields the rotator does not own survive untouched, in
// their original JSON types). Vault answers 403 when the token lacks the `patch` capability (and 405 before
// Vault 1.9); then, and from then on for this store, the fallback is read version `expectedVersion` + POST the
// merged fields with cas = expectedVersion. The cas makes the fallback exactly as safe as PATCH: a write in
// between is a VAULT_CAS_CONFLICT, never a lost update.
//
// The managed check reads the metadata before each write, unless this store has just read the entry itself: a
// read (data, version and custom_metadata in one answer) that showed `provider` vouches for the next write or
// metadata patch of that entry, once, within MANAGED_READ_FRESH_MS, and for a data write only at the version it
// read (the write's cas then covers the data). So a read-decide-write costs two calls, not three, and a person
// who removes `provider` is still heeded from the next read on, as before within about one round trip.
//
// Reading: one GET of the current version, whose answer carries the data, its version number and the key's
// custom_metadata together (a server that leaves custom_metadata out gets a second GET, of the metadata). Fields
// whose names look secret (isSecretFieldName) come back as SecretValue. KV values that are not strings
// (numbers, booleans, objects, null) come back as their JSON text; the rotator never writes them back, and
// writes never touch fields they don't name, so their JSON types survive.
import { isRotatorError, RotatorError } from "../../core/errors.ts";
import type { CredentialStore, StoredCredential } from "../../core/rotation/rotation-ports.ts";
import { SecretValue } from "../../core/secret-value.ts";
import { type KvMetadata, type KvV2, normalizeKvPath } from "./kv-v2.ts";

const NEVER_SECRET = new Set(["client_id", "previous_client_id"]);
const SECRET_NAME = /secret|key|password|token|private/i;

/**
 * Which data fields are secrets: api_key, previous_key, client_secret, current_secret, previous_secret and
 * anything else whose name contains secret/key/password/token/private, except the consumer keys client_id and
 * previous_client_id (identifiers the rotator compares and logs as fingerprints). Wrapping too much is safe.
 */
export function isSecretFieldName(name: string): boolean {
  return !NEVER_SECRET.has(name) && SECRET_NAME.test(name);
}

/** A KV data value as the port's string: strings as they are, anything else as its JSON text. */
function asText(value: unknown): string {
  return typeof value === "string" ? value : (JSON.stringify(value) ?? "null");
}

function revealAll(fields: Readonly<Record<string, string | SecretValue>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = typeof v === "string" ? v : v.reveal();
  return out;
}

export interface VaultCredentialStoreOptions {
  /** The configured credential prefixes (relative to the mount); writes outside them are refused. */
  readonly prefixes?: readonly string[];
  /** Milliseconds on a monotonic clock (tests move it); default performance.now. */
  readonly now?: () => number;
}

/** How long a read of an entry stands in for the managed check's metadata read before a write. */
export const MANAGED_READ_FRESH_MS = 2_000;

/** What the last read of an entry showed: its version and that `provider` was set, and when (now()). */
interface ManagedRead {
  readonly version: number;
  readonly at: number;
}

export class VaultCredentialStore implements CredentialStore {
  readonly #kv: KvV2;
  readonly #prefixes: readonly string[] | undefined;
  /** false once a PATCH was refused with 403/405: later writes use read + POST with cas straight away. */
  #patchAllowed = true;
  readonly #now: () => number;
  /** Per entry, the last read that showed it managed; taken (deleted) by the next write or patch of the entry. */
  readonly #managedReads = new Map<string, ManagedRead>();

  constructor(kv: KvV2, opts: VaultCredentialStoreOptions = {}) {
    this.#kv = kv;
    this.#prefixes = opts.prefixes?.map(normalizeKvPath).filter((p) => p !== "");
    this.#now = opts.now ?? (() => performance.now());
  }

  /** Whether writes go through KV PATCH (true) or fell back to read + POST with cas (false). */
  get usesPatch(): boolean {
    return this.#patchAllowed;
  }

  async read(path: string): Promise<StoredCredential | undefined> {
    const clean = normalizeKvPath(path);
    this.#managedReads.delete(clean);
    const current = await this.#kv.readData(clean);
    if (current === undefined || current.deleted || current.data === null) return undefined;
    const customMetadata = current.customMetadata ?? (await this.#kv.readMetadata(clean))?.customMetadata;
    const data: Record<string, string | SecretValue> = {};
    for (const [k, v] of Object.entries(current.data)) {
      const text = asText(v);
      data[k] = isSecretFieldName(k) ? SecretValue.of(text) : text;
    }
    if ((customMetadata?.["provider"] ?? "") !== "") {
      this.#managedReads.set(clean, { version: current.version, at: this.#now() });
    }
    return { version: current.version, data, customMetadata: { ...customMetadata } };
  }

  async writeFields(
    path: string,
    fields: Readonly<Record<string, string | SecretValue>>,
    expectedVersion: number,
  ): Promise<{ version: number }> {
    const clean = normalizeKvPath(path);
    if (!this.#vouched(clean, "write", expectedVersion)) {
      const meta = await this.#managedMetadata(clean, "write");
      if (meta.currentVersion !== expectedVersion)
        throw casConflict(clean, expectedVersion, meta.currentVersion);
    }
    const wire = revealAll(fields);
    if (this.#patchAllowed && expectedVersion > 0) {
      try {
        return await this.#kv.patchData(clean, wire, { cas: expectedVersion });
      } catch (err) {
        if (!isPatchRefused(err)) throw err;
        this.#patchAllowed = false;
      }
    }
    return this.#readAndPost(clean, wire, expectedVersion);
  }

  async patchMetadata(path: string, patch: Readonly<Record<string, string | null>>): Promise<void> {
    const clean = normalizeKvPath(path);
    if (Object.hasOwn(patch, "provider")) {
      // `provider` is the operators' decision to hand a credential to the rotator; the rotator never changes it.
      throw new RotatorError("VAULT_NOT_MANAGED", `refusing to change "provider" of "${clean}"`, {
        context: { path: clean },
      });
    }
    if (!this.#vouched(clean, "patch the metadata of"))
      await this.#managedMetadata(clean, "patch the metadata of");
    await this.#kv.patchMetadata(clean, { ...patch });
  }

  /**
   * Whether this store's own read of `path`, moments ago, showed it managed (at `version`, for a data write), so
   * that the managed check needs no read of its own. The read is used up either way: it vouches once.
   */
  #vouched(path: string, what: string, version?: number): boolean {
    const read = this.#managedReads.get(path);
    this.#managedReads.delete(path);
    if (read === undefined || this.#now() - read.at > MANAGED_READ_FRESH_MS) return false;
    if (version !== undefined && read.version !== version) return false;
    this.#checkPrefix(path, what);
    return true;
  }

  async #readAndPost(path: string, wire: Record<string, string>, expectedVersion: number) {
    let base: Record<string, unknown> = {};
    if (expectedVersion > 0) {
      const current = await this.#kv.readData(path, expectedVersion);
      if (current === undefined || current.deleted || current.data === null) {
        throw new RotatorError(
          "VAULT_NOT_FOUND",
          `cannot write "${path}": version ${expectedVersion} is deleted or destroyed`,
          { context: { path, expectedVersion } },
        );
      }
      base = current.data;
    }
    return this.#kv.writeData(path, { ...base, ...wire }, { cas: expectedVersion });
  }

  /** The metadata of a managed credential; VAULT_NOT_FOUND when absent, VAULT_NOT_MANAGED when not ours. */
  async #managedMetadata(path: string, what: string): Promise<KvMetadata> {
    this.#checkPrefix(path, what);
    const meta = await this.#kv.readMetadata(path);
    if (meta === undefined) {
      throw new RotatorError("VAULT_NOT_FOUND", `cannot ${what} "${path}": no such key`, {
        context: { path },
      });
    }
    if ((meta.customMetadata["provider"] ?? "") === "") {
      throw new RotatorError(
        "VAULT_NOT_MANAGED",
        `refusing to ${what} "${path}": its custom_metadata has no "provider", so it is not managed`,
        { context: { path } },
      );
    }
    return meta;
  }

  /** VAULT_NOT_MANAGED for a path outside the configured prefixes. */
  #checkPrefix(path: string, what: string): void {
    const underPrefix = this.#prefixes === undefined || this.#prefixes.some((p) => path.startsWith(`${p}/`));
    if (!underPrefix || path.split("/").some((s) => s === "." || s === "..")) {
      throw new RotatorError(
        "VAULT_NOT_MANAGED",
        `refusing to ${what} "${path}": it is not under a configured prefix`,
        { context: { path } },
      );
    }
  }
}

function casConflict(path: string, expected: number, current: number): RotatorError {
  return new RotatorError(
    "VAULT_CAS_CONFLICT",
    `"${path}" is at version ${current}, not ${expected}: someone else wrote it; re-read`,
    { context: { path, expectedVersion: expected, currentVersion: current } },
  );
}

/** 403: the token's policy lacks `patch`; 405: a server without KV PATCH (Vault < 1.9). */
function isPatchRefused(err: unknown): boolean {
  if (isRotatorError(err, "VAULT_PERMISSION_DENIED")) return true;
  return isRotatorError(err, "VAULT_BAD_REQUEST") && err.context["status"] === 405;
}
