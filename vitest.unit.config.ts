// The fast lane (`npm run test:unit`): every test file that does not need the run's Vault server, with no server
// started. A file needs Vault when it reaches test/support/vault-admin.ts (where the server is handed to tests)
// through its imports, directly or through other test helpers; those run in the full `./test.sh` only. The list
// is worked out from the imports, so a new test lands in the right lane without anyone keeping a list.
import path from "node:path";
import { defineConfig } from "vitest/config";
import { importGraph, tsFiles } from "./test/support/import-graph.ts";

const ROOT = import.meta.dirname;
const VAULT_ENTRY = path.join(ROOT, "test/support/vault-admin.ts");

/** The test files that reach the Vault entry through their relative imports, directly or through helpers. */
function needingVault(files: readonly string[]): Set<string> {
  const graph = importGraph(files);
  const needs = new Set<string>([VAULT_ENTRY]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [file, deps] of graph) {
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
