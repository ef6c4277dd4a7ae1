// `npm run build [-- --out-dir DIR]`: the shipped package in dist/ (or DIR: inside the project folder, so that
// node_modules resolve, with the package.json in its parent, as for dist/).
// 1. tsc compiles src/ file by file (tsconfig.build.json): what the simulator and the demo run from, loaded only
//    by `simulate` (the container image leaves them out).
// 2. rolldown bundles the CLI over it: dist/cli.js, the bin, plus one chunk per command and per shared part in
//    dist/chunks/. Start-up is why: loading about 150 files of our own costs more than the code in them, and
//    each command loads only its own chunks (`--help` none). The same holds for the dependencies every Vault
//    command loads (zod, yaml, croner: loaded file by file they took about a third of `scan`'s start-up), so
//    they are bundled too, into one vendor chunk without a source map (their code is unchanged, and
//    a map of it would only cost memory under --enable-source-maps). The other dependencies stay in
//    node_modules (external); the package still lists and installs all of them (the file-by-file build uses
//    them). The simulator stays external: simulate-command.ts imports it from the file-by-file build.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { build } from "rolldown";

const ROOT = path.resolve(import.meta.dirname, "..");
const VENDOR = /[\\/]node_modules[\\/]/;
const SIMULATOR = path.join(ROOT, "src/simulator/");

if (import.meta.main) {
  const { values } = parseArgs({ options: { "out-dir": { type: "string" } }, strict: true });
  const out = path.resolve(ROOT, values["out-dir"] ?? "dist");
  if (!out.startsWith(`${ROOT}${path.sep}`)) throw new Error(`--out-dir must be a folder inside ${ROOT}`);
  const tsc = spawnSync(
    process.execPath,
    [path.join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json", "--outDir", out],
    { cwd: ROOT, stdio: "inherit" },
  );
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
  await bundle({ cli: path.join(ROOT, "src/cli.ts") }, out);
}

/**
 * Bundles the entry points (name → source file) into `out` as the package ships the CLI: `[name].js` plus
 * chunks/, the vendor chunk, ASCII, no doc comments. The memory benchmark bundles its serve entry with it, so
 * what it measures is laid out in memory as the shipped `serve` is.
 */
export async function bundle(input: Record<string, string>, out: string): Promise<void> {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
  };
  const BUNDLED = new Set(["zod", "yaml", "croner"]);
  const external = Object.keys(pkg.dependencies).filter((d) => !BUNDLED.has(d));
  await build({
    input,
    platform: "node",
    cwd: ROOT,
    tsconfig: path.join(ROOT, "tsconfig.build.json"),
    external: (id, importer) => {
      if (id.startsWith("node:") || external.some((d) => id === d || id.startsWith(`${d}/`))) return true;
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
      codeSplitting: { groups: [{ name: "vendor", test: VENDOR }] },
      // V8 keeps every loaded source in memory while the process runs: plain ASCII (one byte a character, where
      // one arrow in a comment makes the whole chunk UTF-16) and without doc comments (the source maps have them).
      charset: "ascii",
      comments: { legal: true, annotation: true, jsdoc: false },
      // The simulator: the file-by-file build's .js (named relative to the output folder; rolldown makes the
      // import relative to the chunk that has it).
      paths: (id) =>
        id.startsWith(SIMULATOR)
          ? `./${path.relative(path.join(ROOT, "src"), id).replace(/\.ts$/, ".js")}`
          : id,
    },
  });

  // The vendor chunk's map goes, and the comment that points to it. charset "ascii" escaped every non-ASCII
  // character in code; the few left are in license comments, escaped here too, so every chunk is plain ASCII
  // (V8 holds a source with one character beyond Latin-1 as UTF-16, twice the size, for as long as it runs).
  const chunks = path.join(out, "chunks");
  for (const name of readdirSync(chunks).filter((f) => /^vendor-[\w-]+\.js$/.test(f))) {
    rmSync(path.join(chunks, `${name}.map`), { force: true });
    const file = path.join(chunks, name);
    const code = readFileSync(file, "utf8")
      .replace(/\n\/\/# sourceMappingURL=\S+\s*$/, "\n")
      .replace(/[\u0080-\u{10ffff}]/gu, (c) => `\\u{${c.codePointAt(0)?.toString(16)}}`);
    writeFileSync(file, code);
  }
}
