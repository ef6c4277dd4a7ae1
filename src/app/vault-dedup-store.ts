// DedupStore in KV v2, so that with several replicas exactly one sends each chat message. One entry per message:
//   <state_prefix>/notified/<sha256(dedup key) hex>   fields: key, claimed_at (RFC 3339), released ("true"|"")
// A claim is a write with check-and-set: cas 0 creates the entry (only one replica's create succeeds); an entry
// that is older than the ttl or was released is reclaimed with cas = the version read (again only one wins).
// Hashing keeps the KV path short and free of the characters credential paths may hold.
import { createHash } from "node:crypto";
import type { KvV2 } from "../adapters/vault/kv-v2.ts";
import { normalizeKvPath } from "../adapters/vault/kv-v2.ts";
import { isRotatorError } from "../core/errors.ts";
import { type Clock, parseRfc3339, systemClock } from "../core/time.ts";
import type { DedupStore } from "./chat-notifier.ts";

const NOTIFIED_FOLDER = "notified";
const HELD_MAX = 1_000;

export class VaultDedupStore implements DedupStore {
  readonly #kv: KvV2;
  readonly #prefix: string;
  readonly #clock: Clock;
  /** The version this process wrote for each key it holds, for release. */
  readonly #held = new Map<string, number>();

  constructor(kv: KvV2, statePrefix: string, clock: Clock = systemClock) {
    this.#kv = kv;
    this.#prefix = normalizeKvPath(statePrefix);
    this.#clock = clock;
  }

  /** Where the claim of `key` lives, relative to the mount. */
  entryPath(key: string): string {
    const hash = createHash("sha256").update(key, "utf8").digest("hex");
    return `${this.#prefix}/${NOTIFIED_FOLDER}/${hash}`;
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    const at = this.entryPath(key);
    const now = this.#clock.now();
    const current = await this.#kv.readData(at);
    let cas = 0;
    if (current !== undefined) {
      const fields = current.data ?? {};
      const claimedAt = parseRfc3339(fields["claimed_at"]);
      const released = fields["released"] === "true";
      // A deleted version or an unreadable time counts as stale: better one duplicate than silence forever.
      const fresh =
        !current.deleted && claimedAt !== undefined && now.getTime() - claimedAt.getTime() < ttlMs;
      if (fresh && !released) return false;
      cas = current.version;
    }
    try {
      const { version } = await this.#kv.writeData(
        at,
        { key, claimed_at: now.toISOString(), released: "" },
        { cas },
      );
      this.#held.set(key, version);
      // Only the latest claims can still be released; forget old ones so a daemon's memory stays flat.
      if (this.#held.size > HELD_MAX) this.#held.delete(this.#held.keys().next().value ?? key);
      return true;
    } catch (err) {
      if (isRotatorError(err, "VAULT_CAS_CONFLICT")) return false;
      throw err;
    }
  }

  /** Marks our own claim released (cas on the version we wrote): someone else's newer claim is left alone. */
  async release(key: string): Promise<void> {
    const version = this.#held.get(key);
    if (version === undefined) return;
    this.#held.delete(key);
    try {
      await this.#kv.writeData(
        this.entryPath(key),
        { key, claimed_at: this.#clock.now().toISOString(), released: "true" },
        { cas: version },
      );
    } catch (err) {
      if (!isRotatorError(err, "VAULT_CAS_CONFLICT")) throw err;
    }
  }
}
