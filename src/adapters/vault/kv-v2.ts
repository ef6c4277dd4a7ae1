// KV v2 on top of VaultClient: the cases libraries get wrong are handled here once:
// a LIST 404 is an empty folder, a data 404 with a body is a deleted version, a PATCH 404 without a body is a
// missing key, a 400 check-and-set is VAULT_CAS_CONFLICT, merge patches use application/merge-patch+json.
// The mount is checked once (KV v2?) before the first call, so nothing is ever written into a KV v1 mount.
import { isRotatorError, RotatorError } from "../../core/errors.ts";
import { encodePath, type VaultClient } from "./vault-client.ts";
import { errorFromAnswer, isInvalidKvV2Path } from "./vault-errors.ts";
import { parseVaultBody, type VaultRequest } from "./vault-request.ts";
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
