// No import cycles in the shipped code or the bench, type-only and dynamic imports included: a cycle is two
// modules that cannot be understood, tested or loaded one without the other, and type-only cycles are where the
// runtime ones start. The graph comes from every `import … from`, `import "…"`, `export … from` and `import()` in
// the code with its comments removed (test/support/import-graph.ts), and the strongly connected components are
// found with Tarjan's algorithm.
import path from "node:path";
import { describe, expect, it } from "vitest";
import { importGraph, specifiers, tsFiles } from "../support/import-graph.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");

/** The cycles: strongly connected components of more than one file, or a file importing itself. */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string | undefined;
      do {
        w = stack.pop();
        if (w === undefined) break;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe("import cycles", () => {
  it("there are none in src/ or bench/, counting type-only and dynamic imports", () => {
    const files = [...tsFiles(path.join(ROOT, "src")), ...tsFiles(path.join(ROOT, "bench"))];
    expect(files.length).toBeGreaterThan(100);
    const found = cycles(importGraph(files)).map((c) => c.map((f) => path.relative(ROOT, f)));
    expect(found).toEqual([]);
  });

  it("finds a cycle made only of type imports, and one through a dynamic import", () => {
    const graph = new Map([
      ["a", ["b"]],
      ["b", ["c"]],
      ["c", ["a"]],
      ["d", ["a"]],
      ["e", ["e"]],
    ]);
    expect(cycles(graph)).toEqual([["a", "b", "c"], ["e"]]);
    const text = [
      'import type { X } from "./x.ts";',
      "import {",
      "  a,",
      "  type B,",
      '} from "./multi.ts";',
      'import "./side-effect.ts";',
      'const m = await import("./y.ts");',
      'export { z } from "./z.ts";',
      'export type * from "./types.ts";',
      '// import { gone } from "./commented.ts";',
      '/* import { gone } from "./block.ts"; */',
    ].join("\n");
    expect(specifiers(text).sort()).toEqual([
      "./multi.ts",
      "./side-effect.ts",
      "./types.ts",
      "./x.ts",
      "./y.ts",
      "./z.ts",
    ]);
  });
});
