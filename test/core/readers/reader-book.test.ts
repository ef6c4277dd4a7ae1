import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type BookEntry,
  decodeShard,
  encodeShard,
  mergeShards,
  READER_SHARDS,
  ReaderBook,
  type ShardContent,
  shardOf,
} from "../../../src/core/readers/reader-book.ts";

const T = Date.parse("2026-12-05T10:00:00Z");
const DAY = 86_400_000;
const read = (path: string, readerId: string, version: number, at: number) => ({
  path,
  readerId,
  label: readerId,
  version,
  at,
});
const limits = { windowMs: 7 * DAY, maxReadersPerPath: 3, maxReaders: 1_000 };

describe("ReaderBook", () => {
  it("keeps each reader's latest read per path, whatever order the lines come in", () => {
    const book = new ReaderBook(limits);
    book.add(read("p", "a", 4, T));
    expect(book.add(read("p", "a", 3, T - 1000))).toBe(false); // older line arriving late
    book.add(read("p", "b", 3, T - 5000));
    book.add(read("q", "a", 9, T));
    expect(book.readersOf("p", 0).map((r) => [r.id, r.version])).toEqual([
      ["a", 4],
      ["b", 3],
    ]);
    expect(book.readersOf("p", T - 2000).map((r) => r.id)).toEqual(["a"]);
    expect(book.size).toBe(3);
    expect(book.takeDirty().sort()).toEqual(["p", "q"]);
    expect(book.takeDirty()).toEqual([]);
  });

  it("is bounded: per path and in total the oldest reads go first, and the window drops old reads", () => {
    const book = new ReaderBook({ windowMs: DAY, maxReadersPerPath: 3, maxReaders: 200 });
    for (let i = 0; i < 5; i++) book.add(read("p", `r${i}`, 1, T + i));
    expect(
      book
        .readersOf("p", 0)
        .map((r) => r.id)
        .sort(),
    ).toEqual(["r2", "r3", "r4"]);
    for (let i = 0; i < 400; i++) book.add(read(`path-${i}`, "x", 1, T + 10 + i));
    expect(book.size).toBeLessThanOrEqual(200);
    expect(book.readersOf("path-399", 0)).toHaveLength(1); // the newest stay
    expect(book.readersOf("path-0", 0)).toHaveLength(0);
    book.prune(T + 410 + DAY + 1);
    expect(book.size).toBe(0);
  });
});

describe("the shared shards", () => {
  it("spreads 10,000 paths over all shards with none holding more than a few times its share", () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) {
      const s = shardOf(`api-credentials/team-${i % 97}/app-${i}`);
      expect(s).toMatch(/^[0-9a-f]{2}$/);
      counts.set(s, (counts.get(s) ?? 0) + 1);
    }
    expect(counts.size).toBe(READER_SHARDS);
    expect(Math.max(...counts.values())).toBeLessThan((3 * 10_000) / READER_SHARDS);
  });

  it("round-trips through the KV form and drops rows with the wrong shape without throwing", () => {
    const content: ShardContent = new Map([
      ["a/b", new Map<string, BookEntry>([["entity:1", { label: "x", version: 2, at: T }]])],
    ]);
    expect(decodeShard(JSON.parse(JSON.stringify(encodeShard(content))))).toEqual({ content, bad: 0 });
    const hostile = {
      format: 1,
      paths: [
        [
          "a/b",
          [["entity:1", "x", 2, T], ["e", "l", "2", T], null, ["e", 1, 2, T], ["__proto__", "p", 1, T]],
        ],
        ["", []],
        "junk",
        [1, []],
      ],
    };
    const { content: back, bad } = decodeShard(hostile);
    expect(bad).toBe(6);
    expect([...(back.get("a/b")?.keys() ?? [])]).toEqual(["entity:1", "__proto__"]);
    expect(({} as Record<string, unknown>)["p"]).toBeUndefined();
    expect(decodeShard(null).bad).toBe(1);
    expect(decodeShard({ format: 2, paths: [] }).bad).toBe(1);
  });

  it("merges like a max per reader: commutative, idempotent, and the window and cap apply", () => {
    const entry = fc.record({
      label: fc.constantFrom("a", "b"),
      version: fc.integer({ min: 1, max: 5 }),
      at: fc.integer({ min: T - 10, max: T + 10 }),
    });
    const shard = fc
      .array(fc.tuple(fc.constantFrom("p", "q"), fc.constantFrom("r1", "r2", "r3"), entry), { maxLength: 12 })
      .map((rows) => {
        const c: ShardContent = new Map();
        for (const [p, r, e] of rows) {
          const m = c.get(p) ?? new Map<string, BookEntry>();
          const held = m.get(r);
          if (held === undefined || e.at > held.at || (e.at === held.at && e.version > held.version))
            m.set(r, e);
          c.set(p, m);
        }
        return c;
      });
    const norm = (c: ShardContent) =>
      [...c]
        .map(([p, m]) => [p, [...m].sort((x, y) => (x[0] < y[0] ? -1 : 1))] as const)
        .sort((x, y) => (x[0] < y[0] ? -1 : 1));
    fc.assert(
      fc.property(shard, shard, (a, b) => {
        const ab = mergeShards(a, b, 0, 10);
        expect(norm(ab)).toEqual(norm(mergeShards(b, a, 0, 10)));
        expect(norm(mergeShards(ab, b, 0, 10))).toEqual(norm(ab));
        for (const [p, m] of ab)
          for (const [r, e] of m) {
            const all = [a.get(p)?.get(r), b.get(p)?.get(r)].filter((x) => x !== undefined);
            expect(e.at).toBe(Math.max(...all.map((x) => x.at)));
          }
      }),
    );
    const old: ShardContent = new Map([["p", new Map([["r", { label: "r", version: 1, at: T - 100 }]])]]);
    expect(mergeShards(old, new Map(), T, 10).size).toBe(0);
  });
});
