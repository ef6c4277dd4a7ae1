// The reader book's shared form in KV, under the state prefix (src/core/readers/reader-book.ts has the format):
//   <state_prefix>/readers/<shard>   shard = two hex digits of a hash of the credential path (256 entries at most)
// e.g. secret/data/eca-rotator/readers/3f. Each replica writes the shards whose paths it saw read, with
// check-and-set; on a conflict it reads the entry again, merges (the later read per reader wins) and retries, so
// concurrent replicas never lose each other's readers. Nothing secret is written: paths, reader ids (entity ids,
// accessor HMACs), labels, KV version numbers and times.
import { isRotatorError, RotatorError } from "../../core/errors.ts";
import { decodeShard, encodeShard, mergeShards, type ShardContent } from "../../core/readers/reader-book.ts";
import type { KvV2 } from "./kv-v2.ts";

const READERS_FOLDER = "readers";
const MAX_CAS_ATTEMPTS = 5;

export class VaultReaderShards {
  readonly #kv: KvV2;
  readonly #prefix: string;

  /** `kv` must carry the state prefix (as for the rotation state store). */
  constructor(kv: KvV2) {
    if (kv.statePrefix === undefined || kv.statePrefix === "") {
      throw new RotatorError("CONFIG_INVALID", "the reader feed needs a state prefix", {
        context: { mount: kv.mount },
      });
    }
    this.#kv = kv;
    this.#prefix = kv.statePrefix;
  }

  /** Where a shard lives, relative to the mount. */
  shardPath(shard: string): string {
    if (!/^[0-9a-f]{2}$/.test(shard)) {
      throw new RotatorError("INTERNAL_INVARIANT", "not a reader shard", { context: { shard } });
    }
    return `${this.#prefix}/${READERS_FOLDER}/${shard}`;
  }

  /** The shards that exist (one LIST). */
  async list(): Promise<string[]> {
    const names = await this.#kv.list(`${this.#prefix}/${READERS_FOLDER}`);
    return names.filter((n) => /^[0-9a-f]{2}$/.test(n));
  }

  /** A shard's content and current KV version (0: no entry yet). Rows that do not parse are counted in `bad`. */
  async read(shard: string): Promise<{ content: ShardContent; version: number; bad: number }> {
    const d = await this.#kv.readData(this.shardPath(shard));
    if (d === undefined) return { content: new Map(), version: 0, bad: 0 };
    // A deleted current version (someone ran `kv delete`) is simply empty: the next write replaces it.
    if (d.deleted || d.data === null) return { content: new Map(), version: d.version, bad: 0 };
    const { content, bad } = decodeShard(d.data);
    return { content, version: d.version, bad };
  }

  /**
   * Merges `ours` into the shard and writes it with check-and-set, reading again and re-merging on a conflict.
   * Returns what was written. Reads older than `oldestMs` are dropped on the way.
   */
  async merge(
    shard: string,
    ours: ShardContent,
    oldestMs: number,
    maxPerPath: number,
  ): Promise<ShardContent> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.read(shard);
      const merged = mergeShards(current.content, ours, oldestMs, maxPerPath);
      try {
        await this.#kv.writeData(this.shardPath(shard), encodeShard(merged), { cas: current.version });
        return merged;
      } catch (err) {
        if (!isRotatorError(err, "VAULT_CAS_CONFLICT") || attempt >= MAX_CAS_ATTEMPTS) throw err;
      }
    }
  }
}
