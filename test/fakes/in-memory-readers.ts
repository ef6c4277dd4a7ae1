// The reader feed's ports in memory: ReaderEvidence (one path) and ReaderDirectory (every path at once), over
// a plain list of reads; counts the calls, so a test can check a scan asks once, and can be made to fail.
import type { ReaderDirectory, ReaderEvidence, ReaderSeen } from "../../src/core/readers/readers.ts";

export class InMemoryReaders implements ReaderEvidence, ReaderDirectory {
  readonly #byPath = new Map<string, ReaderSeen[]>();
  calls = 0;
  failWith: Error | undefined;

  /** One reader's latest read of `path` (a later add for the same id replaces it). */
  add(path: string, reader: { id?: string; label: string; version: number; at: Date }): this {
    const list = this.#byPath.get(path) ?? [];
    const id = reader.id ?? `entity:${reader.label}`;
    this.#byPath.set(path, [...list.filter((r) => r.id !== id), { ...reader, id }]);
    return this;
  }

  async readersOf(path: string, since: Date): Promise<readonly ReaderSeen[]> {
    this.calls++;
    if (this.failWith !== undefined) throw this.failWith;
    return (this.#byPath.get(path) ?? []).filter((r) => r.at >= since);
  }

  async allReaders(since: Date): Promise<ReadonlyMap<string, readonly ReaderSeen[]>> {
    this.calls++;
    if (this.failWith !== undefined) throw this.failWith;
    const out = new Map<string, readonly ReaderSeen[]>();
    for (const [path, list] of this.#byPath) {
      const seen = list.filter((r) => r.at >= since);
      if (seen.length > 0) out.set(path, seen);
    }
    return out;
  }
}
