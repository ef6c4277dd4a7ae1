// The command table. Each command lives in its own file; this file only lists them.
import type { ParseArgsOptionsConfig } from "node:util";
import { adoptCommand } from "./adopt-command.ts";
import { auditCommand } from "./audit-command.ts";
import { checkCommand } from "./check-command.ts";
import type { CliIo, ExitCode } from "./cli-io.ts";
import { reportCommand } from "./report-command.ts";
import { resolveCommand } from "./resolve-command.ts";
import { rollbackCommand } from "./rollback-command.ts";
import { rotateCommand } from "./rotate-command.ts";
import { runCommand } from "./run-command.ts";
import { scanCommand } from "./scan-command.ts";
import { serveCommand } from "./serve-command.ts";
import { simulateCommand } from "./simulate-command.ts";

export interface CommandContext {
  readonly io: CliIo;
  readonly values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;
  readonly positionals: readonly string[];
}

export interface CommandSpec {
  readonly name: string;
  readonly summary: string;
  readonly help: string;
  readonly options: ParseArgsOptionsConfig;
  /** Set when the command takes positional arguments (e.g. a credential path). */
  readonly positionals?: string;
  run(ctx: CommandContext): Promise<ExitCode>;
}

export const COMMANDS: readonly CommandSpec[] = [
  scanCommand,
  reportCommand,
  checkCommand,
  serveCommand,
  runCommand,
  rotateCommand,
  rollbackCommand,
  resolveCommand,
  adoptCommand,
  simulateCommand,
  auditCommand,
];
