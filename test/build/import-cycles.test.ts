// No import cycles in the shipped code or the bench, type-only and dynamic imports included: a cycle is two
// modules that cannot be understood, tested or loaded one without the other, and type-only cycles are where the
// runtime ones start. The graph comes from every `import … from`, `import "…"`, `export … from` and `import()` in
// the code with its comments removed, and the strongly connected components are found with Tarjan's algorithm.
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return tsFiles(p);
    return p.endsWith(".ts") ? [p] : [];
  });
}

const SPECIFIERS = [
  /\bimport\s+(?:type\s+)?[^;"'`]*?\bfrom\s*["']([^"']+)["']/g,
  /\bexport\s+(?:type\s+)?(?:\*|\{[^}]*\})(?:\s+as\s+\w+)?\s*from\s*["']([^"']+)["']/g,
  /\bimport\s*["']([^"']+)["']/g,
  /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
];

/** The module specifiers a TypeScript source imports or re-exports, type-only and dynamic ones included. */
function specifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  return SPECIFIERS.flatMap((re) => [...code.matchAll(re)].map((m) => m[1] ?? ""));
}

/** Each file's relative imports, resolved to files of the same set. */
function importGraph(files: readonly string[]): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const deps = specifiers(readFileSync(file, "utf8"))
      .filter((spec) => spec.startsWith("."))
      .map((spec) => path.resolve(path.dirname(file), spec))
      .filter((target) => known.has(target));
    graph.set(file, [...new Set(deps)]);
  }
  return graph;
}

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
