#!/usr/bin/env node
// The `eca-rotator` executable: parse the command line, run one command, exit with its code.
import module from "node:module";
import { homedir } from "node:os";
import path from "node:path";

// V8's compile cache: from the second run on, the code a command loads is not compiled again (a third of the
// start-up of `scan`). Kept per user, never in a shared /tmp where another account could plant entries;
// NODE_COMPILE_CACHE names another folder, NODE_DISABLE_COMPILE_CACHE=1 turns it off, and a folder that cannot
// be written leaves it off. Enabled before the rest is imported, so the rest is cached too.
if (process.env["NODE_COMPILE_CACHE"] === undefined) {
  const cacheHome = process.env["XDG_CACHE_HOME"] || path.join(homedir(), ".cache");
  module.enableCompileCache?.(path.join(cacheHome, "eca-rotator"));
}
const { processIo } = await import("./cli/cli-io.ts");
const { runCli } = await import("./cli/run-cli.ts");

process.exitCode = await runCli(process.argv.slice(2), processIo());
