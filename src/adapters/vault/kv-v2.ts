// KV v2 on top of VaultClient: the cases libraries get wrong are handled here once:
// a LIST 404 is an empty folder, a data 404 with a body is a deleted version, a PATCH 404 without a body is a
// missing key, a 400 check-and-set is VAULT_CAS_CONFLICT, merge patches use application/merge-patch+json.
// The mount is checked once (KV v2?) before the first call, so nothing is ever written into a KV v1 mount.
import { isRotatorError, RotatorError } from "../../core/errors.ts";
import type { KvEntryMetadata, MetadataSource, ScanItem } from "../../core/inventory/kv-entry.ts";
import type { CredentialStore, StoredCredential } from "../../core/rotation/rotation-ports.ts";
import { SecretValue } from "../../core/secret-value.ts";
import { type Clock, systemClock } from "../../core/time.ts";
import {
  encodePath,
  errorFromAnswer,
  isInvalidKvV2Path,
  parseVaultBody,
  type VaultClient,
  type VaultRequest,
} from "./vault-client.ts";
import {
  DetailedListSchema,
  KvDataSchema,
  type KvMetadataData,
  KvMetadataDataSchema,
  KvMetadataSchema,
  KvWriteSchema,
  ListSchema,
} from "./vault-schemas.ts";

interface KvVersionInfo {
  createdTime: string;
  /** RFC 3339, or "" when the version is not (scheduled to be) deleted. */
  deletionTime: string;
  destroyed: boolean;
}

export interface KvMetadata {
  currentVersion: number;
  createdTime: string;
  updatedTime: string;
  customMetadata: Record<string, string>;
  versions: Record<string, KvVersionInfo>;
  casRequired: boolean;
  maxVersions: number;
}

export interface KvData {
  data: Record<string, unknown> | null;
  version: number;
  createdTime: string;
  /** The version is soft-deleted or destroyed: `data` is null. */
  deleted: boolean;
  /** The key's custom_metadata as the read answered it; undefined when the server leaves it out (Vault < 1.9). */
  customMetadata?: Record<string, string> | undefined;
}

/** One level of OpenBao's detailed-metadata listing. Names are relative to the listed prefix. */
export interface KvDetailedListing {
  /** Sub-folders, each ending in "/". */
  folders: string[];
  entries: Map<string, KvMetadata>;
  /** Keys whose metadata was missing or malformed in the listing. */
  invalid: string[];
}

/** "a//b/" → "a/b": KV paths are handled without leading, trailing or doubled slashes. */
export function normalizeKvPath(p: string): string {
  return p
    .split("/")
    .filter((s) => s !== "")
    .join("/");
}

function toKvMetadata(d: KvMetadataData): KvMetadata {
  const versions: Record<string, KvVersionInfo> = {};
  for (const [v, info] of Object.entries(d.versions ?? {})) {
    versions[v] = {
      createdTime: info.created_time,
      deletionTime: info.deletion_time ?? "",
      destroyed: info.destroyed ?? false,
    };
  }
  return {
    currentVersion: d.current_version,
    createdTime: d.created_time,
    updatedTime: d.updated_time,
    customMetadata: { ...(d.custom_metadata ?? {}) },
    versions,
    casRequired: d.cas_required ?? false,
    maxVersions: d.max_versions ?? 0,
  };
}

/**
 * KvMetadataDataSchema and toKvMetadata in one pass, for the answers a scan reads by the thousand: the same
 * checks and the same result, without zod's copy of every object on the way (at 10,000 keys, zod's copies were
 * most of a scan's CPU and garbage). undefined when anything is off the common shape (a wrong type, a
 * `__proto__` key): the caller then runs the schema, so a bad answer gets zod's verdict and message as before.
 */
function kvMetadataFast(d: unknown): KvMetadata | undefined {
  if (!isPlainRecord(d)) return undefined;
  const currentVersion = d["current_version"];
  const createdTime = d["created_time"];
  const updatedTime = d["updated_time"];
  if (typeof currentVersion !== "number" || !Number.isFinite(currentVersion)) return undefined;
  if (typeof createdTime !== "string" || typeof updatedTime !== "string") return undefined;
  const cas = d["cas_required"];
  const max = d["max_versions"];
  if (cas != null && typeof cas !== "boolean") return undefined;
  if (max != null && (typeof max !== "number" || !Number.isFinite(max))) return undefined;
  const custom = d["custom_metadata"];
  let customMetadata: Record<string, string>;
  if (custom == null) customMetadata = {};
  else {
    if (!isPlainRecord(custom)) return undefined;
    for (const k in custom) if (k === "__proto__" || typeof custom[k] !== "string") return undefined;
    // The parsed answer is ours alone, so it is kept rather than copied.
    customMetadata = custom as Record<string, string>;
  }
  const rawVersions = d["versions"];
  const versions: Record<string, KvVersionInfo> = {};
  if (rawVersions != null) {
    if (!isPlainRecord(rawVersions)) return undefined;
    for (const v in rawVersions) {
      const info = rawVersions[v];
      if (v === "__proto__" || !isPlainRecord(info)) return undefined;
      const created = info["created_time"];
      const deletion = info["deletion_time"];
      const destroyed = info["destroyed"];
      if (typeof created !== "string") return undefined;
      if (deletion != null && typeof deletion !== "string") return undefined;
      if (destroyed != null && typeof destroyed !== "boolean") return undefined;
      versions[v] = { createdTime: created, deletionTime: deletion ?? "", destroyed: destroyed ?? false };
    }
  }
  return {
    currentVersion,
    createdTime,
    updatedTime,
    customMetadata,
    versions,
    casRequired: cas ?? false,
    maxVersions: max ?? 0,
  };
}

/** A JSON object (not null, not an array), with own enumerable keys only as JSON.parse makes them. */
function isPlainRecord(x: unknown): x is Record<string, unknown> {
  return (
    typeof x === "object" && x !== null && !Array.isArray(x) && Object.getPrototypeOf(x) === Object.prototype
  );
}

/** The `data` of a detailed-metadata LIST when it has the expected shape (keys strings, key_info objects). */
function detailedDataFast(
  body: unknown,
): { keys: readonly string[]; keyInfo: Record<string, unknown> | undefined } | undefined {
  if (!isPlainRecord(body)) return undefined;
  const data = body["data"];
  if (!isPlainRecord(data)) return undefined;
  const keys = data["keys"];
  const keyInfo = data["key_info"];
  if (keys != null && (!Array.isArray(keys) || !keys.every((k) => typeof k === "string"))) return undefined;
  if (keyInfo != null && !isPlainRecord(keyInfo)) return undefined;
  return { keys: (keys ?? []) as string[], keyInfo: keyInfo ?? undefined };
}

export class KvV2 {
  readonly client: VaultClient;
  readonly mount: string;
  readonly statePrefix: string | undefined;
  #mountChecked: Promise<void> | undefined;

  constructor(client: VaultClient, mount: string, opts: { statePrefix?: string } = {}) {
    this.client = client;
    this.mount = normalizeKvPath(mount);
    this.statePrefix = opts.statePrefix === undefined ? undefined : normalizeKvPath(opts.statePrefix);
  }

  /**
   * Fails with VAULT_NOT_KV_V2 unless the mount exists and is KV version 2. Runs once (a success is
   * remembered; a failure is retried on the next call). Every other method calls it first.
   */
  async checkMount(): Promise<void> {
    this.#mountChecked ??= this.#checkMountOnce().catch((err: unknown) => {
      this.#mountChecked = undefined;
      throw err;
    });
    return this.#mountChecked;
  }

  async #checkMountOnce(): Promise<void> {
    let info: Awaited<ReturnType<VaultClient["mountInfo"]>>;
    try {
      info = await this.client.mountInfo(this.mount);
    } catch (err) {
      if (!isRotatorError(err, "VAULT_NOT_FOUND")) throw err;
      throw new RotatorError("VAULT_NOT_KV_V2", `"${this.mount}" is not a KV v2 mount: ${err.message}`, {
        context: { ...err.context, mount: this.mount },
        cause: err,
      });
    }
    const isKv = info.type === "kv" || info.type === "generic";
    const mountPath = info.path?.replace(/\/+$/, "");
    if (mountPath !== undefined && mountPath !== "" && mountPath !== this.mount) {
      throw new RotatorError(
        "VAULT_NOT_KV_V2",
        `"${this.mount}" is not a mount: it lies inside the mount "${mountPath}" (set the KV mount to "${mountPath}")`,
        { context: { mount: this.mount, actualMount: mountPath } },
      );
    }
    if (!isKv || info.version !== "2") {
      const what = isKv ? `a KV version ${info.version ?? "1"} mount` : `a "${info.type}" mount`;
      throw new RotatorError("VAULT_NOT_KV_V2", `"${this.mount}" is ${what}, not KV version 2`, {
        context: { mount: this.mount, type: info.type, version: info.version },
      });
    }
  }

  #path(family: string, p: string, folder = false): string {
    const clean = normalizeKvPath(p);
    const base = `${encodePath(this.mount)}/${family}`;
    if (clean === "") return `${base}/`;
    return `${base}/${encodePath(clean)}${folder ? "/" : ""}`;
  }

  /** One level under `prefix`; folders end in "/". A missing or empty prefix gives []. */
  async list(prefix: string): Promise<string[]> {
    await this.checkMount();
    const req: VaultRequest = { method: "LIST", path: this.#path("metadata", prefix, true), accept: [404] };
    const res = await this.client.request(req);
    if (res.status === 404) {
      assertKvV2Answer(res.warnings, req);
      return [];
    }
    return parseVaultBody(ListSchema, res, req).data.keys ?? [];
  }

  /** Every key under `prefix` (depth first, in listing order), as full paths relative to the mount. */
  async *walk(prefix: string): AsyncIterable<string> {
    const base = normalizeKvPath(prefix);
    for (const name of await this.list(base)) {
      const full = base === "" ? name : `${base}/${name}`;
      if (name.endsWith("/")) yield* this.walk(full);
      else yield full;
    }
  }

  async readMetadata(path: string): Promise<KvMetadata | undefined> {
    await this.checkMount();
    const req: VaultRequest = { method: "GET", path: this.#path("metadata", path), accept: [404] };
    const res = await this.client.request(req);
    if (res.status === 404) {
      assertKvV2Answer(res.warnings, req);
      return undefined;
    }
    const body = res.body as { data?: unknown } | undefined;
    return (
      kvMetadataFast(isPlainRecord(body) ? body.data : undefined) ??
      toKvMetadata(parseVaultBody(KvMetadataSchema, res, req).data)
    );
  }

  /** One level of OpenBao's detailed-metadata LIST; undefined when the server has none (Vault CE). */
  async listDetailed(prefix: string): Promise<KvDetailedListing | undefined> {
    await this.checkMount();
    const req: VaultRequest = {
      method: "LIST",
      path: this.#path("detailed-metadata", prefix, true),
      accept: [400, 404, 405],
    };
    const res = await this.client.request(req);
    if (res.status === 405 || (res.status === 404 && res.warnings.length > 0)) return undefined;
    if (res.status === 400) {
      if (res.errors.some((e) => /unsupported (operation|path)/i.test(e))) return undefined;
      throw errorFromAnswer({
        ...req,
        status: 400,
        errors: res.errors,
        warnings: res.warnings,
        requestId: res.requestId,
      });
    }
    const listing: KvDetailedListing = { folders: [], entries: new Map(), invalid: [] };
    if (res.status === 404) return listing;
    const data = detailedDataFast(res.body) ?? slowDetailedData(res, req);
    for (const key of data.keys) {
      if (key.endsWith("/")) {
        listing.folders.push(key);
        continue;
      }
      const raw =
        data.keyInfo !== undefined && Object.hasOwn(data.keyInfo, key) ? data.keyInfo[key] : undefined;
      const meta = kvMetadataFast(raw) ?? slowKvMetadata(raw);
      if (meta !== undefined) listing.entries.set(key, meta);
      else listing.invalid.push(key);
    }
    return listing;
  }

  /** One level of metadata keyed by name relative to `prefix` (folders left out); undefined on Vault CE. */
  async listDetailedMetadata(prefix: string): Promise<Map<string, KvMetadata> | undefined> {
    return (await this.listDetailed(prefix))?.entries;
  }

  /**
   * A version of the secret (the current one by default). A soft-deleted or destroyed version is reported with
   * `deleted: true` and `data: null`; undefined only when there is no such key or version.
   */
  async readData(path: string, version?: number): Promise<KvData | undefined> {
    await this.checkMount();
    const req: VaultRequest = {
      method: "GET",
      path: this.#path("data", path),
      ...(version === undefined ? {} : { query: { version } }),
      accept: [404],
    };
    const res = await this.client.request(req);
    if (res.status === 404) {
      assertKvV2Answer(res.warnings, req);
      // A deleted or destroyed version answers 404 with a full body; a missing key with `{"errors":[]}`.
      const deleted = KvDataSchema.safeParse(res.body);
      if (!deleted.success) return undefined;
      const m = deleted.data.data.metadata;
      return { data: null, version: m.version, createdTime: m.created_time, deleted: true };
    }
    const d = parseVaultBody(KvDataSchema, res, req).data;
    const custom = d.metadata.custom_metadata;
    return {
      data: d.data,
      version: d.metadata.version,
      createdTime: d.metadata.created_time,
      deleted: d.data === null,
      customMetadata: custom === undefined ? undefined : { ...(custom ?? {}) },
    };
  }

  /** Writes a new version only if the current version is `cas` (0: only if the key does not exist yet). */
  async writeData(
    path: string,
    data: Record<string, unknown>,
    opts: { cas: number },
  ): Promise<{ version: number }> {
    await this.checkMount();
    const req: VaultRequest = {
      method: "POST",
      path: this.#path("data", path),
      body: { options: { cas: opts.cas }, data },
    };
    return { version: (await this.client.requestJson(req, KvWriteSchema)).data.version };
  }

  /** Merge-patches the current version into a new one (other fields survive; null removes a field). */
  async patchData(
    path: string,
    data: Record<string, unknown | null>,
    opts: { cas: number },
  ): Promise<{ version: number }> {
    await this.checkMount();
    const req: VaultRequest = {
      method: "PATCH",
      path: this.#path("data", path),
      body: { options: { cas: opts.cas }, data },
      mergePatch: true,
      accept: [404],
    };
    const res = await this.client.request(req);
    if (res.status === 404) {
      assertKvV2Answer(res.warnings, req);
      const why = res.body === undefined ? "no such key" : "the current version is deleted or destroyed";
      throw new RotatorError("VAULT_NOT_FOUND", `${req.method} ${req.path} → HTTP 404: ${why}`, {
        context: { method: req.method, path: req.path, status: 404, requestId: res.requestId },
      });
    }
    return { version: parseVaultBody(KvWriteSchema, res, req).data.version };
  }

  /** Merges into custom_metadata (null removes a key; other keys survive). No new version. */
  async patchMetadata(path: string, customMetadata: Record<string, string | null>): Promise<void> {
    await this.checkMount();
    const req: VaultRequest = {
      method: "PATCH",
      path: this.#path("metadata", path),
      body: { custom_metadata: customMetadata },
      mergePatch: true,
      // A merge patch of metadata gives the same result when repeated: safe to retry.
      idempotent: true,
      accept: [404],
    };
    const res = await this.client.request(req);
    if (res.status === 404) {
      assertKvV2Answer(res.warnings, req);
      throw new RotatorError("VAULT_NOT_FOUND", `${req.method} ${req.path} → HTTP 404: no such key`, {
        context: { method: req.method, path: req.path, status: 404 },
      });
    }
  }

  /** Deletes a key with all its versions, but only one of the rotator's own state entries (under statePrefix). */
  async deleteStateEntry(path: string): Promise<void> {
    const clean = normalizeKvPath(path);
    const segments = clean.split("/");
    const prefix = this.statePrefix;
    const inside =
      prefix !== undefined &&
      prefix !== "" &&
      clean.startsWith(`${prefix}/`) &&
      !segments.some((s) => s === "." || s === "..");
    if (!inside) {
      throw new RotatorError(
        "VAULT_NOT_MANAGED",
        `refusing to delete "${clean}": only entries under the state prefix ` +
          `${prefix ? `"${prefix}/"` : "(none configured)"} may be deleted`,
        { context: { path: clean, statePrefix: prefix } },
      );
    }
    await this.checkMount();
    await this.client.request({ method: "DELETE", path: this.#path("metadata", clean), idempotent: true });
  }
}

function slowDetailedData(
  res: Parameters<typeof parseVaultBody>[1],
  req: VaultRequest,
): { keys: readonly string[]; keyInfo: Record<string, unknown> | undefined } {
  const d = parseVaultBody(DetailedListSchema, res, req).data;
  return { keys: d.keys ?? [], keyInfo: d.key_info ?? undefined };
}

function slowKvMetadata(raw: unknown): KvMetadata | undefined {
  const parsed = KvMetadataDataSchema.safeParse(raw);
  return parsed.success ? toKvMetadata(parsed.data) : undefined;
}

/** A 404 whose warning says "Invalid path for a versioned K/V secrets engine" means the mount is not KV v2. */
function assertKvV2Answer(warnings: readonly string[], req: VaultRequest): void {
  if (isInvalidKvV2Path(warnings)) {
    throw new RotatorError("VAULT_NOT_KV_V2", `${req.method} ${req.path} → HTTP 404: not a KV v2 path`, {
      context: { method: req.method, path: req.path, status: 404 },
    });
  }
}

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

// MetadataSource over KV v2. Two ways to read a tree's metadata:
//   detailed  OpenBao 2.2+ `detailed-metadata` LIST: one request per folder, metadata included;
//   per-key   LIST per folder plus one GET metadata per key, `concurrency` at a time (Vault CE).
// "auto" tries detailed once and remembers whether the server (and the token's policy) allows it. Items are
// yielded as they are read, so memory stays bounded by one folder listing plus the read window.
export type ListingMode = "auto" | "detailed" | "per-key";

export interface VaultMetadataSourceOptions {
  listing: ListingMode;
  /** Parallel metadata reads in per-key mode. */
  concurrency: number;
  /** Decides whether a scheduled deletion_time is already in the past; defaults to the client's clock. */
  clock?: Clock;
}

/** Errors that mean the whole scan cannot go on (as opposed to one unreadable entry). */
const SCAN_STOPPERS = new Set([
  "VAULT_UNAVAILABLE",
  "VAULT_SEALED",
  "VAULT_AUTH_FAILED",
  "VAULT_TLS",
  "VAULT_NOT_KV_V2",
  "VAULT_RATE_LIMITED",
]);

type Settled = { readonly item: ScanItem } | { readonly error: unknown };

export class VaultMetadataSource implements MetadataSource {
  readonly #kv: KvV2;
  readonly #listing: ListingMode;
  readonly #concurrency: number;
  readonly #clock: Clock;
  /** auto mode: whether detailed listing worked here (undefined: not tried yet). */
  #detailedWorks: boolean | undefined;
  #listingUsed: "detailed" | "per-key" | undefined;

  constructor(kv: KvV2, opts: VaultMetadataSourceOptions) {
    this.#kv = kv;
    this.#listing = opts.listing;
    this.#concurrency = Math.max(1, Math.floor(opts.concurrency));
    this.#clock = opts.clock ?? kv.client.clock ?? systemClock;
  }

  /** What the last scan actually used (for `check` and benchmarks). */
  get listingUsed(): "detailed" | "per-key" | undefined {
    return this.#listingUsed;
  }

  async *scan(prefix: string): AsyncIterable<ScanItem> {
    const base = normalizeKvPath(prefix);
    if (this.#listing !== "per-key" && this.#detailedWorks !== false) {
      const first = await this.#firstDetailedListing(base);
      if (first) {
        this.#listingUsed = "detailed";
        yield* this.#detailedFrom(base, first);
        return;
      }
    }
    this.#listingUsed = "per-key";
    yield* this.#perKey(base);
  }

  /** The prefix's detailed listing, or undefined when auto mode must fall back to per-key reads. */
  async #firstDetailedListing(base: string) {
    try {
      const listing = await this.#kv.listDetailed(base);
      if (listing) {
        this.#detailedWorks = true;
        return listing;
      }
      if (this.#listing === "detailed") {
        throw new RotatorError(
          "VAULT_BAD_REQUEST",
          `the server has no detailed-metadata listing (OpenBao 2.2+) on mount "${this.#kv.mount}"; ` +
            'set vault.listing to "auto" or "per-key"',
          { context: { mount: this.#kv.mount } },
        );
      }
    } catch (err) {
      // A policy without `list` on detailed-metadata/ is normal (it also reveals metadata of unreadable keys).
      if (this.#listing === "detailed" || !isRotatorError(err, "VAULT_PERMISSION_DENIED")) throw err;
    }
    this.#detailedWorks = false;
    return undefined;
  }

  async *#detailedFrom(
    base: string,
    listing: NonNullable<Awaited<ReturnType<KvV2["listDetailed"]>>>,
  ): AsyncGenerator<ScanItem> {
    const now = this.#clock.now().getTime();
    for (const [name, meta] of listing.entries) {
      yield { kind: "entry", entry: toEntry(join(base, name), meta, now) };
    }
    for (const name of listing.invalid) {
      yield unreadable(
        join(base, name),
        "VAULT_UNEXPECTED_RESPONSE",
        "metadata missing or malformed in the listing",
      );
    }
    for (const folder of listing.folders) {
      const sub = join(base, folder.replace(/\/$/, ""));
      let next: Awaited<ReturnType<KvV2["listDetailed"]>>;
      try {
        next = await this.#kv.listDetailed(sub);
      } catch (err) {
        if (isStopper(err)) throw err;
        yield unreadableFrom(`${sub}/`, err);
        continue;
      }
      if (next) yield* this.#detailedFrom(sub, next);
      else yield unreadable(`${sub}/`, "VAULT_BAD_REQUEST", "detailed listing unavailable for this folder");
    }
  }

  /** LIST every folder, GET each key's metadata with at most `concurrency` reads in flight, in listing order. */
  async *#perKey(base: string): AsyncGenerator<ScanItem> {
    const window: Promise<Settled>[] = [];
    for await (const found of this.#keys(base, true)) {
      if (found.kind === "unreadable") {
        yield found;
        continue;
      }
      window.push(this.#readOne(found.path));
      if (window.length >= this.#concurrency) yield unwrap(await (window.shift() as Promise<Settled>));
    }
    while (window.length > 0) yield unwrap(await (window.shift() as Promise<Settled>));
  }

  /** Every key path under `base`; a sub-folder that cannot be listed is reported, the prefix itself throws. */
  async *#keys(
    base: string,
    isPrefix: boolean,
  ): AsyncGenerator<{ kind: "key"; path: string } | Extract<ScanItem, { kind: "unreadable" }>> {
    let names: string[];
    try {
      names = await this.#kv.list(base);
    } catch (err) {
      if (isPrefix || isStopper(err)) throw err;
      yield unreadableFrom(`${base}/`, err);
      return;
    }
    for (const name of names) {
      const full = join(base, name.replace(/\/$/, ""));
      if (name.endsWith("/")) yield* this.#keys(full, false);
      else yield { kind: "key", path: full };
    }
  }

  /** Never rejects (a rejected promise waiting in the window would be an unhandled rejection). */
  async #readOne(path: string): Promise<Settled> {
    try {
      const meta = await this.#kv.readMetadata(path);
      if (!meta) return { item: unreadable(path, "VAULT_NOT_FOUND", "deleted between listing and reading") };
      return { item: { kind: "entry", entry: toEntry(path, meta, this.#clock.now().getTime()) } };
    } catch (err) {
      if (isStopper(err)) return { error: err };
      return { item: unreadableFrom(path, err) };
    }
  }
}

function unwrap(s: Settled): ScanItem {
  if ("error" in s) throw s.error;
  return s.item;
}

function isStopper(err: unknown): boolean {
  return !isRotatorError(err) || SCAN_STOPPERS.has(err.code);
}

function join(base: string, name: string): string {
  return base === "" ? name : `${base}/${name}`;
}

function unreadable(path: string, code: string, message: string): Extract<ScanItem, { kind: "unreadable" }> {
  return { kind: "unreadable", path, code, message };
}

function unreadableFrom(path: string, err: unknown): Extract<ScanItem, { kind: "unreadable" }> {
  return isRotatorError(err)
    ? unreadable(path, err.code, err.message)
    : unreadable(path, "UNCLASSIFIED", "unexpected error while reading metadata");
}

/** The inventory's view of one key; the current version's times come from versions[current_version]. */
export function toEntry(path: string, meta: KvMetadata, nowMs: number): KvEntryMetadata {
  const current = meta.versions[String(meta.currentVersion)];
  const deletionMs = current?.deletionTime ? Date.parse(current.deletionTime) : Number.NaN;
  return {
    path,
    currentVersion: meta.currentVersion,
    createdTime: meta.createdTime,
    updatedTime: meta.updatedTime,
    currentVersionCreatedTime: current?.createdTime,
    currentVersionDeleted:
      (current?.destroyed ?? false) || (!Number.isNaN(deletionMs) && deletionMs <= nowMs),
    customMetadata: meta.customMetadata,
  };
}
