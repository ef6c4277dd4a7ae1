#!/usr/bin/env node
// The `eca-rotator` executable: parse the command line, run one command, exit with its code.
import { runCli } from "./cli/run-cli.ts";
import { processIo } from "./cli/cli-io.ts";

process.exitCode = await runCli(process.argv.slice(2), processIo());
