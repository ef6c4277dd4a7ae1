// RotationStateStore (rotation-ports.ts) on KV v2, under the configured state prefix (default "eca-rotator").
// The KV paths (relative to the mount; user-visible, documented in docs/metadata.md and granted by rotator.hcl):
//   <state_prefix>/journal/<credential path>   one journal record per unfinished rotation (journal-record.ts)
//   <state_prefix>/leases/<credential path>    the credential's lease: fields owner, expires_at (RFC 3339), fence
//   <state_prefix>/owners/<consumer key>       the path that owns an external consumer (rotation-run.ts):
//                                              fields path, since (RFC 3339), subject, adopted_from
// e.g. secret/data/eca-rotator/journal/api-credentials/team-a/crm for the credential api-credentials/team-a/crm.
// Every write is a POST with cas (0 = create). Deletes remove the metadata, so every version goes and the next
// create with cas 0 works. A record that does not parse is ROTATION_JOURNAL_CORRUPT: reported, never guessed at.
import { z } from "zod";
import { RotatorError } from "../../core/errors.ts";
import {
  type JournalRecord,
  parseJournalFields,
  toJournalFields,
} from "../../core/rotation/journal-record.ts";
import type {
  ConsumerOwner,
  Lease,
  RotationStateStore,
  Versioned,
} from "../../core/rotation/rotation-ports.ts";
import { parseRfc3339 } from "../../core/time.ts";
import type { KvData, KvV2 } from "./kv-v2.ts";
import { normalizeKvPath } from "./kv-v2.ts";

const JOURNAL_FOLDER = "journal";
const LEASE_FOLDER = "leases";
const OWNER_FOLDER = "owners";

const OwnerFieldsSchema = z.looseObject({
  path: z.string().min(1),
  since: z.string(),
  subject: z.string(),
  adopted_from: z.string().min(1).optional(),
});

const LeaseFieldsSchema = z.looseObject({
  owner: z.string().min(1),
  expires_at: z.string(),
  fence: z.string().regex(/^\d{1,12}$/),
});

export class VaultStateStore implements RotationStateStore {
  readonly #kv: KvV2;
  readonly #prefix: string;

  /** `kv` must carry the state prefix (new KvV2(client, mount, { statePrefix })): deletes are confined to it. */
  constructor(kv: KvV2) {
    if (kv.statePrefix === undefined || kv.statePrefix === "") {
      throw new RotatorError("CONFIG_INVALID", "the rotation state store needs a state prefix", {
        context: { mount: kv.mount },
      });
    }
    this.#kv = kv;
    this.#prefix = kv.statePrefix;
  }

  /** Where the journal record of `credentialPath` lives, relative to the mount. */
  journalPath(credentialPath: string): string {
    return `${this.#prefix}/${JOURNAL_FOLDER}/${checkedPath(credentialPath)}`;
  }

  /** Where the lease of `credentialPath` lives, relative to the mount. */
  leasePath(credentialPath: string): string {
    return `${this.#prefix}/${LEASE_FOLDER}/${checkedPath(credentialPath)}`;
  }

  async readJournal(path: string): Promise<Versioned<JournalRecord> | undefined> {
    const at = this.journalPath(path);
    const data = await this.#readCurrent(at, "journal");
    if (data === undefined) return undefined;
    const parsed = parseJournalFields(data.fields);
    if (!parsed.ok) throw corrupt("journal", at, parsed.reason);
    if (normalizeKvPath(parsed.record.path) !== normalizeKvPath(path)) {
      throw corrupt("journal", at, "the record names another credential path");
    }
    return { value: parsed.record, version: data.version };
  }

  async writeJournal(path: string, record: JournalRecord, cas: number): Promise<number> {
    if (normalizeKvPath(record.path) !== normalizeKvPath(path)) {
      throw new RotatorError("INTERNAL_INVARIANT", "a journal record must be written at its own path", {
        context: { path, recordPath: record.path },
      });
    }
    const wire: Record<string, string> = {};
    for (const [k, v] of Object.entries(toJournalFields(record))) {
      wire[k] = typeof v === "string" ? v : v.reveal();
    }
    return (await this.#kv.writeData(this.journalPath(path), wire, { cas })).version;
  }

  async deleteJournal(path: string): Promise<void> {
    await this.#kv.deleteStateEntry(this.journalPath(path));
  }

  async *listJournals(): AsyncIterable<string> {
    const folder = `${this.#prefix}/${JOURNAL_FOLDER}`;
    for await (const key of this.#kv.walk(folder)) yield key.slice(folder.length + 1);
  }

  async readLease(path: string): Promise<Versioned<Lease> | undefined> {
    const at = this.leasePath(path);
    const data = await this.#readCurrent(at, "lease");
    if (data === undefined) return undefined;
    const parsed = LeaseFieldsSchema.safeParse(data.fields);
    const expiresAt = parsed.success ? parseRfc3339(parsed.data.expires_at) : undefined;
    if (!parsed.success || expiresAt === undefined) {
      throw corrupt("lease", at, "lease record needs owner, expires_at (RFC 3339) and fence");
    }
    return {
      value: { owner: parsed.data.owner, expiresAt, fence: Number(parsed.data.fence) },
      version: data.version,
    };
  }

  async writeLease(path: string, lease: Lease, cas: number): Promise<number> {
    const wire = {
      owner: lease.owner,
      expires_at: lease.expiresAt.toISOString(),
      fence: String(lease.fence),
    };
    return (await this.#kv.writeData(this.leasePath(path), wire, { cas })).version;
  }

  async deleteLease(path: string): Promise<void> {
    await this.#kv.deleteStateEntry(this.leasePath(path));
  }

  /** Where the owner record of a consumer lives, relative to the mount. */
  ownerPath(key: string): string {
    return `${this.#prefix}/${OWNER_FOLDER}/${checkedPath(key)}`;
  }

  async readOwner(key: string): Promise<Versioned<ConsumerOwner> | undefined> {
    const at = this.ownerPath(key);
    const data = await this.#readCurrent(at, "owner");
    if (data === undefined) return undefined;
    const parsed = OwnerFieldsSchema.safeParse(data.fields);
    const since = parsed.success ? parseRfc3339(parsed.data.since) : undefined;
    if (!parsed.success || since === undefined) {
      throw corrupt("owner", at, "owner record needs path, since (RFC 3339) and subject");
    }
    const { path, subject, adopted_from } = parsed.data;
    return { value: { path, since, subject, adoptedFrom: adopted_from }, version: data.version };
  }

  async writeOwner(key: string, owner: ConsumerOwner, cas: number): Promise<number> {
    const wire: Record<string, string> = {
      path: normalizeKvPath(owner.path),
      since: owner.since.toISOString(),
      subject: owner.subject,
    };
    if (owner.adoptedFrom !== undefined) wire["adopted_from"] = owner.adoptedFrom;
    return (await this.#kv.writeData(this.ownerPath(key), wire, { cas })).version;
  }

  /**
   * The current version's fields. A soft-deleted current version (someone ran `kv delete` on it) is corrupt, not
   * absent: answering "absent" would make the caller create with cas 0, which fails forever on that key.
   */
  async #readCurrent(
    at: string,
    what: string,
  ): Promise<{ fields: Record<string, unknown>; version: number } | undefined> {
    const d: KvData | undefined = await this.#kv.readData(at);
    if (d === undefined) return undefined;
    if (d.deleted || d.data === null) {
      throw corrupt(
        what,
        at,
        `its current version ${d.version} is deleted; remove the key with all versions`,
      );
    }
    return { fields: d.data, version: d.version };
  }
}

function checkedPath(credentialPath: string): string {
  const clean = normalizeKvPath(credentialPath);
  if (clean === "" || clean.split("/").some((s) => s === "." || s === "..")) {
    throw new RotatorError("INTERNAL_INVARIANT", "not a credential path", {
      context: { path: credentialPath },
    });
  }
  return clean;
}

function corrupt(what: string, at: string, reason: string): RotatorError {
  return new RotatorError("ROTATION_JOURNAL_CORRUPT", `${what} record at "${at}" is unreadable: ${reason}`, {
    context: { path: at },
  });
}
