// `audit verify FILE`: checks the hash chain of an audit file written by the file sink (audit-chain.ts).
// The whole file is read at once: verifyAuditChain takes the lines as an array. Audit files grow by a few hundred
// bytes per rotation step, so even years of them fit in memory comfortably.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { verifyAuditChain } from "../adapters/audit/audit-chain.ts";
import { EXIT } from "./cli-io.ts";
import type { CommandSpec } from "./commands.ts";
import { UsageError } from "./usage-error.ts";

export const auditCommand: CommandSpec = {
  name: "audit",
  summary: "audit verify FILE: check that no line of an audit file was edited, removed or reordered",
  help: `Usage: eca-rotator audit verify FILE

Checks the hash chain of an audit file written by the file sink (audit.file): every line must match its own
hash and name the hash of the line before it. An edited, removed, inserted or reordered line is reported
with its line number. Lines cut off the end of the file cannot be detected from the file alone: compare the
line count with the rotator's audit metrics.
Exit 0 when the chain is intact, 1 when it is broken, 2 on a usage error or an unreadable file.`,
  options: {},
  positionals: "verify FILE",
  async run(ctx) {
    const [sub, file, ...extra] = ctx.positionals;
    if (sub === undefined) throw new UsageError('audit needs a subcommand: "audit verify FILE"');
    if (sub !== "verify")
      throw new UsageError(`unknown audit subcommand "${printable(sub)}"; use "audit verify FILE"`);
    if (file === undefined || file === "") throw new UsageError("audit verify needs the audit FILE to check");
    if (extra.length > 0) throw new UsageError("audit verify takes one FILE");

    const fullPath = path.resolve(ctx.io.cwd, file);
    let text: string;
    try {
      text = await readFile(fullPath, "utf8");
    } catch (err) {
      throw new UsageError(`cannot read ${printable(file)}: ${readProblem(err)}`);
    }
    const result = verifyAuditChain(text.split("\n"));
    if (result.ok) {
      ctx.io.stdout.write(`ok: ${result.count} ${result.count === 1 ? "line" : "lines"}, chain intact\n`);
      return EXIT.ok;
    }
    ctx.io.stdout.write(`broken: line ${result.line}: ${result.problem}\n`);
    return EXIT.failed;
  },
};

function readProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "EISDIR") return "it is a directory";
  return code ?? "unreadable";
}

function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, "?").slice(0, 200);
}
