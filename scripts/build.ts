// `npm run build [-- --out-dir DIR]`: the shipped package in dist/ (or DIR: inside the project folder, so that
// node_modules resolve, with the package.json in its parent, as for dist/).
// 1. tsc compiles src/ file by file (tsconfig.build.json): what the simulator and the demo run from, loaded only
//    by `simulate` (the container image leaves them out).
// 2. rolldown bundles the CLI over it: dist/cli.js, the bin, plus one chunk per command and per shared part in
//    dist/chunks/. The dependencies stay in node_modules (external), so the package installs them as before.
//    Start-up is why: loading about 150 files of our own costs more than the code in them, and each command
//    loads only its own chunks (`--help` none). The simulator stays external: simulate-command.ts imports it
//    from the file-by-file build.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { build } from "rolldown";

const ROOT = path.resolve(import.meta.dirname, "..");
const { values } = parseArgs({ options: { "out-dir": { type: "string" } }, strict: true });
const out = path.resolve(ROOT, values["out-dir"] ?? "dist");
if (!out.startsWith(`${ROOT}${path.sep}`)) throw new Error(`--out-dir must be a folder inside ${ROOT}`);

const tsc = spawnSync(
  process.execPath,
  [path.join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json", "--outDir", out],
  { cwd: ROOT, stdio: "inherit" },
);
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
  dependencies: Record<string, string>;
};
const dependencies = Object.keys(pkg.dependencies);
const SIMULATOR = path.join(ROOT, "src/simulator/");

await build({
  input: { cli: path.join(ROOT, "src/cli.ts") },
  platform: "node",
  cwd: ROOT,
  tsconfig: path.join(ROOT, "tsconfig.build.json"),
  external: (id, importer) => {
    if (id.startsWith("node:") || dependencies.some((d) => id === d || id.startsWith(`${d}/`))) return true;
    const resolved = importer === undefined ? id : path.resolve(path.dirname(importer), id);
    return resolved.startsWith(SIMULATOR);
  },
  logLevel: "warn",
  output: {
    dir: out,
    format: "esm",
    sourcemap: true,
    entryFileNames: "[name].js",
    chunkFileNames: "chunks/[name]-[hash].js",
    // The simulator: the file-by-file build's .js (named relative to the output folder; rolldown makes the
    // import relative to the chunk that has it).
    paths: (id) =>
      id.startsWith(SIMULATOR)
        ? `./${path.relative(path.join(ROOT, "src"), id).replace(/\.ts$/, ".js")}`
        : id,
  },
});
