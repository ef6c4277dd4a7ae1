// The fast lane (`npm run test:unit`): every test file that does not need the run's Vault server, with no server
// started. A file needs Vault when it reaches test/support/vault-admin.ts (where the server is handed to tests)
// through its imports, directly or through other test helpers; those run in the full `./test.sh` only. The list
// is worked out from the imports, so a new test lands in the right lane without anyone keeping a list.
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { defineConfig } from "vitest/config";

const ROOT = import.meta.dirname;
const VAULT_ENTRY = path.join(ROOT, "test/support/vault-admin.ts");

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return tsFiles(p);
    return p.endsWith(".ts") ? [p] : [];
  });
}

/** The test files that reach the Vault entry through their relative imports. */
function needingVault(files: readonly string[]): Set<string> {
  const imports = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const specs = [...text.matchAll(/\bfrom\s*["'](\.[^"']+)["']|\bimport\s*\(\s*["'](\.[^"']+)["']/g)];
    imports.set(
      file,
      specs.map((m) => path.resolve(path.dirname(file), m[1] ?? m[2] ?? "")),
    );
  }
  const needs = new Set<string>([VAULT_ENTRY]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [file, deps] of imports) {
      if (!needs.has(file) && deps.some((d) => needs.has(d))) {
        needs.add(file);
        grew = true;
      }
    }
  }
  return needs;
}

const all = tsFiles(path.join(ROOT, "test"));
const needs = needingVault(all);
const unit = all.filter((f) => f.endsWith(".test.ts") && !needs.has(f)).map((f) => path.relative(ROOT, f));

export default defineConfig({
  test: {
    include: unit,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    fileParallelism: true,
  },
});
