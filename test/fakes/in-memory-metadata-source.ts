// MetadataSource for unit tests. Follows the port's contract (src/core/inventory/kv-entry.ts): prefixes are
// folders ("api" does not match "api-credentials/x"), a missing prefix yields nothing, unreadable entries
// are yielded rather than thrown, and a prefix marked as failing throws the given RotatorError.

import type { RotatorError } from "../../src/core/errors.ts";
import type { KvEntryMetadata, MetadataSource, ScanItem } from "../../src/core/inventory/kv-entry.ts";

export class InMemoryMetadataSource implements MetadataSource {
  readonly #items = new Map<string, ScanItem>();
  readonly #failures = new Map<string, RotatorError>();
  /** Prefixes scanned, in order: lets a test check what the caller asked for. */
  readonly scannedPrefixes: string[] = [];

  constructor(items: readonly (KvEntryMetadata | ScanItem)[] = []) {
    for (const item of items) this.add(item);
  }

  add(item: KvEntryMetadata | ScanItem): this {
    const scanItem: ScanItem = "kind" in item ? item : { kind: "entry", entry: item };
    const path = scanItem.kind === "entry" ? scanItem.entry.path : scanItem.path;
    this.#items.set(path, scanItem);
    return this;
  }

  addUnreadable(path: string, code: string, message: string): this {
    return this.add({ kind: "unreadable", path, code, message });
  }

  remove(path: string): this {
    this.#items.delete(path);
    return this;
  }

  /** scan(prefix) will throw `error` (e.g. a sealed server or a wrong token). */
  failPrefix(prefix: string, error: RotatorError): this {
    this.#failures.set(normalise(prefix), error);
    return this;
  }

  async *scan(prefix: string): AsyncIterable<ScanItem> {
    const folder = normalise(prefix);
    this.scannedPrefixes.push(folder);
    const failure = this.#failures.get(folder);
    if (failure !== undefined) throw failure;
    const paths = [...this.#items.keys()].filter((p) => folder === "" || p.startsWith(`${folder}/`)).sort();
    for (const path of paths) {
      const item = this.#items.get(path);
      if (item !== undefined) yield item;
    }
  }
}

function normalise(prefix: string): string {
  return prefix.replace(/^\/+|\/+$/g, "");
}
