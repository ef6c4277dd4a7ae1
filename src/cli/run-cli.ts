// Command dispatch: global flags, the command table, and the one place errors become exit codes and lines.
import { parseArgs } from "node:util";
import { ConfigError } from "../config/config-error.ts";
import { isRotatorError } from "../core/errors.ts";
import { type CliIo, type CommandSpec, EXIT, type ExitCode, UsageError } from "./cli-io.ts";
import { packageVersion } from "./package-version.ts";

// The command table: name and one-line summary of each command, and how to load it. Each command lives in its own
// file and is imported only when it runs, so `--help` and a light command never load the HTTP server, the
// metrics, the logger or a Vault client they do not use.
export interface CommandEntry {
  readonly name: string;
  readonly summary: string;
  load(): Promise<CommandSpec>;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    name: "scan",
    summary: "list every credential under the prefixes with its deadline and state (metadata only)",
    load: async () => (await import("./scan-command.ts")).scanCommand,
  },
  {
    name: "report",
    summary: "the expiry report: overdue, due soon, failed, unverified, stuck and invalid credentials",
    load: async () => (await import("./report-command.ts")).reportCommand,
  },
  {
    name: "check",
    summary: "preflight: config, Vault, token capabilities, Salesforce, each credential's provider, chat",
    load: async () => (await import("./check-command.ts")).checkCommand,
  },
  {
    name: "serve",
    summary: "the daemon: scheduler, flag watcher, HTTP API, metrics, weekly report",
    load: async () => (await import("./serve-command.ts")).serveCommand,
  },
  {
    name: "run",
    summary: "run --once: one cycle: resume, scan, act on flags, rotate what is due",
    load: async () => (await import("./run-command.ts")).runCommand,
  },
  {
    name: "rotate",
    summary: "rotate one credential now (standard, or --emergency revoke-first)",
    load: async () => (await import("./rotate-command.ts")).rotateCommand,
  },
  {
    name: "rollback",
    summary: "before promotion: discard the staged pair and restore the previous one in KV",
    load: async () => (await import("./rollback-command.ts")).rollbackCommand,
  },
  {
    name: "resolve",
    summary: "end a parked (failed) rotation: KV names Salesforce's main pair, journal and lease go",
    load: async () => (await import("./resolve-command.ts")).resolveCommand,
  },
  {
    name: "adopt",
    summary: "make PATH the owner of its credential's app consumer (proving PATH holds the working secret)",
    load: async () => (await import("./adopt-command.ts")).adoptCommand,
  },
  {
    name: "simulate",
    summary: "run the bundled Salesforce simulator (a fake org) for dry runs",
    load: async () => (await import("./simulate-command.ts")).simulateCommand,
  },
  {
    name: "audit",
    summary: "audit verify FILE: check an audit file's hash chain (with the chain key: authenticate it)",
    load: async () => (await import("./audit-command.ts")).auditCommand,
  },
];

const GLOBAL_HELP = `eca-rotator: keeps API credentials stored in Vault/OpenBao KV v2 fresh

Usage: eca-rotator <command> [options] [--config FILE]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(8)} ${c.summary}`).join("\n")}

Global options:
  --config FILE   YAML configuration (default: $ECA_ROTATOR_CONFIG; without one, Vault's
                  standard variables such as VAULT_ADDR and VAULT_TOKEN are enough to scan)
  -h, --help      help for a command: eca-rotator <command> --help

Exit codes: 0 success, 1 something failed (or is overdue, where the command says so), 2 usage or config error.
`;

export async function runCli(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    io.stdout.write(GLOBAL_HELP);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === "--version" || name === "version") {
    io.stdout.write(`${await packageVersion()}\n`);
    return EXIT.ok;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    io.stderr.write(`error: unknown command "${printable(name)}"; run "eca-rotator --help" for the list\n`);
    return EXIT.usage;
  }
  const command = await entry.load();
  try {
    const parsed = parseCommandArgs(command, rest);
    if (parsed.values["help"] === true) {
      io.stdout.write(`${command.help}\n`);
      return EXIT.ok;
    }
    return await command.run({ io, values: parsed.values, positionals: parsed.positionals });
  } catch (err) {
    return reportError(err, command, io);
  }
}

function parseCommandArgs(command: CommandSpec, args: readonly string[]) {
  try {
    return parseArgs({
      args: [...args],
      options: {
        config: { type: "string" },
        help: { type: "boolean", short: "h" },
        ...command.options,
      },
      allowPositionals: command.positionals !== undefined,
      strict: true,
    });
  } catch (err) {
    // node's messages name the offending flag; they never contain values of other flags.
    throw new UsageError((err as Error).message);
  }
}

function reportError(err: unknown, command: CommandSpec, io: CliIo): ExitCode {
  if (err instanceof UsageError) {
    io.stderr.write(`error: ${err.message}\nrun "eca-rotator ${command.name} --help" for usage\n`);
    return EXIT.usage;
  }
  if (err instanceof ConfigError) {
    io.stderr.write(`error: the configuration is not valid:\n${err.message.replace(/^/gm, "  ")}\n`);
    return EXIT.usage;
  }
  if (isRotatorError(err)) {
    io.stderr.write(`error: ${err.toLine()}\n`);
    // A config value that is well-formed but unusable (a secret file that is missing) is still a config error.
    return err.code === "CONFIG_INVALID" ? EXIT.usage : EXIT.failed;
  }
  // Unexpected: one line by default; the stack only on request (it may name internal paths, never secrets).
  const message = err instanceof Error ? err.message : String(err);
  io.stderr.write(`internal error: ${message}\n`);
  if (io.env["ECA_ROTATOR_DEBUG"] && err instanceof Error && err.stack) io.stderr.write(`${err.stack}\n`);
  return EXIT.failed;
}

function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, "?").slice(0, 40);
}
