#!/usr/bin/env node
import { processIo } from "./cli/cli-io.ts";
// The `eca-rotator` executable: parse the command line, run one command, exit with its code.
import { runCli } from "./cli/run-cli.ts";

process.exitCode = await runCli(process.argv.slice(2), processIo());
