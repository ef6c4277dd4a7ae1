// What a command may touch of the outside world, injected so commands run in-process in tests.

import { readFileSync } from "node:fs";
import path from "node:path";
import type { ParseArgsOptionsConfig } from "node:util";
import type { Config } from "../config/config-types.ts";
import { loadConfig } from "../config/load-config.ts";

export interface CliIo {
  readonly stdout: { write(text: string): void; readonly isTTY: boolean };
  readonly stderr: { write(text: string): void; readonly isTTY: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

export function processIo(): CliIo {
  return {
    stdout: {
      write: (t) => void process.stdout.write(t),
      get isTTY() {
        return process.stdout.isTTY === true;
      },
    },
    stderr: {
      write: (t) => void process.stderr.write(t),
      get isTTY() {
        return process.stderr.isTTY === true;
      },
    },
    env: process.env,
    cwd: process.cwd(),
  };
}

/** The CLI's exit codes (docs/cli.md). */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** What a command is given: the streams, and the parsed options and positionals. */
export interface CommandContext {
  readonly io: CliIo;
  readonly values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;
  readonly positionals: readonly string[];
}

export interface CommandSpec {
  readonly name: string;
  readonly help: string;
  readonly options: ParseArgsOptionsConfig;
  /** Set when the command takes positional arguments (e.g. a credential path). */
  readonly positionals?: string;
  run(ctx: CommandContext): Promise<ExitCode>;
}
/** One line of `check`'s preflight: ok, FAIL or warn, about a topic. */
export interface CheckLine {
  readonly mark: "ok" | "FAIL" | "warn";
  readonly topic: string;
  readonly text: string;
}

/** A mistake on the command line: printed as one line plus a pointer to --help, exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** --config FILE, else $ECA_ROTATOR_CONFIG, else no file (Vault's standard variables and defaults). */
export function loadCliConfig(ctx: CommandContext): Config {
  const flag = ctx.values["config"];
  const file = typeof flag === "string" ? flag : ctx.io.env["ECA_ROTATOR_CONFIG"] || undefined;
  return loadConfig({
    ...(file === undefined ? {} : { file: path.resolve(ctx.io.cwd, file) }),
    env: ctx.io.env,
    readFile: (p) => readFileSync(p, "utf8"),
  });
}
