// The relative imports of TypeScript sources, read as text: every `import … from`, `import "…"`, `export … from`
// and `import()`, type-only ones included, with comments removed. TypeScript 7 has no JavaScript API to ask, and
// the checks that use this (no import cycles; which tests need Vault) only follow relative paths.
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

export function tsFiles(dir: string): string[] {
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
export function specifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  return SPECIFIERS.flatMap((re) => [...code.matchAll(re)].map((m) => m[1] ?? ""));
}

/** Each file's relative imports, resolved to files of the same set. */
export function importGraph(files: readonly string[]): Map<string, string[]> {
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
