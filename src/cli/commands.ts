// The command table: name and one-line summary of each command, and how to load it. Each command lives in its own
// file and is imported only when it runs, so `--help` and a light command never load the HTTP server, the
// metrics, the logger or a Vault client they do not use.
import type { CommandSpec } from "./cli-io.ts";

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
