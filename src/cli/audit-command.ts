// `audit verify FILE`: checks the hash chain of an audit file written by the file sink (jsonl-file-audit-sink.ts), with
// the chain key when one is given (--key-file, --key-env, or audit.chain_key through --config).
// The whole file is read at once: verifyAuditChain takes the lines as an array. Audit files grow by a few hundred
// bytes per rotation step, so even years of them fit in memory comfortably.
import { readFile } from "node:fs/promises";
import path from "node:path";
import {
  AuditChainKey,
  MIN_CHAIN_KEY_BYTES,
  verifyAuditChain,
} from "../adapters/audit/jsonl-file-audit-sink.ts";
import { connectVault, type VaultStack } from "../app/compose.ts";
import { isRotatorError } from "../core/errors.ts";
import { loadAuditChainKey } from "../daemon/secret-refs.ts";
import type { CommandContext, CommandSpec } from "./cli-io.ts";
import { EXIT, loadCliConfig, UsageError } from "./cli-io.ts";

export const auditCommand: CommandSpec = {
  name: "audit",
  help: `Usage: eca-rotator audit verify FILE [--key-file PATH | --key-env NAME | --config FILE]

Checks the hash chain of an audit file written by the file sink (audit.file): every line must match its own
hash and name the hash of the line before it. With audit.chain_key set, the rotator writes keyed lines
("alg":"hmac-sha256": the hash is an HMAC-SHA256 under the key); give the same key here to authenticate them:
  --key-file PATH   the key is the file's content (trimmed)
  --key-env NAME    the key is the environment variable NAME
  --config FILE     the key is the config's audit.chain_key ({file}, {env} or {vault}; {vault} logs in to
                    Vault as the config says); no key when the config sets none. Only an explicit --config
                    is read, never $ECA_ROTATOR_CONFIG.
The key is never printed.

What is detected, with the key kept away from whoever can write the file (in Vault, or off the host):
  an edited, removed, inserted or reordered line; a file rewritten with every hash recomputed; keyed lines
  followed by unkeyed ones (a downgrade); a wrong key. Unkeyed lines written before the key was set are
  reported as such, and are pinned by the first keyed line after them.
What is not detected:
  whole lines cut off the end of the file (the rest is still a valid chain): compare with a second copy of the
  events (the syslog or HTTP audit sink) or with eca_rotator_audit_events_total{sink="file"}, the lines each
  serve replica wrote; a deleted file (verify only reads what it is given). Without a key (an unkeyed file, or
  verifying without a key option), a rewritten and re-hashed file is not detected either.

Output: "ok: N lines, chain intact (...)", or "broken: line N: <problem>", or "broken: no line is keyed ...",
or "unverified: ..." for a keyed file checked without its key.
Exit 0 when the chain is intact (with a key: every keyed line authenticated); 1 when it is broken, the key does
not match, or a key was given and no line is keyed; 2 on a usage error, an unreadable file or key, or a keyed
file checked without a key (it cannot be authenticated).`,
  options: {
    "key-file": { type: "string" },
    "key-env": { type: "string" },
  },
  positionals: "verify FILE",
  async run(ctx) {
    const [sub, file, ...extra] = ctx.positionals;
    if (sub === undefined) throw new UsageError('audit needs a subcommand: "audit verify FILE"');
    if (sub !== "verify")
      throw new UsageError(`unknown audit subcommand "${printable(sub)}"; use "audit verify FILE"`);
    if (file === undefined || file === "") throw new UsageError("audit verify needs the audit FILE to check");
    if (extra.length > 0) throw new UsageError("audit verify takes one FILE");

    let key: AuditChainKey | undefined;
    try {
      key = await chainKeyArg(ctx);
    } catch (err) {
      if (!isRotatorError(err)) throw err;
      // The key could not be had (a missing KV entry, Vault down): nothing was verified, so not "broken".
      ctx.io.stderr.write(`error: ${err.toLine()}\n`);
      return EXIT.usage;
    }

    const fullPath = path.resolve(ctx.io.cwd, file);
    let text: string;
    try {
      text = await readFile(fullPath, "utf8");
    } catch (err) {
      throw new UsageError(`cannot read ${printable(file)}: ${readProblem(err)}`);
    }
    const result = verifyAuditChain(text.split("\n"), { key });
    if (!result.ok) {
      ctx.io.stdout.write(`broken: line ${result.line}: ${result.problem}\n`);
      return EXIT.failed;
    }
    const { count, keyed } = result;
    const lines = `${count} ${count === 1 ? "line" : "lines"}`;
    const before = count - keyed;
    if (key !== undefined && keyed === 0) {
      ctx.io.stdout.write(
        `broken: no line is keyed (${lines}, SHA-256 only): the file was written without audit.chain_key, or rewritten without it\n`,
      );
      return EXIT.failed;
    }
    if (key === undefined && keyed > 0) {
      ctx.io.stdout.write(
        `unverified: ${lines}, ${keyed} keyed (hmac-sha256): they cannot be authenticated without the key; give --key-file, --key-env or --config\n`,
      );
      return EXIT.usage;
    }
    if (key === undefined) {
      ctx.io.stdout.write(
        `ok: ${lines}, chain intact (unkeyed: anyone who could write the file could have rewritten it)\n`,
      );
      return EXIT.ok;
    }
    const predate =
      before === 0
        ? ""
        : `; ${before === 1 ? "line 1 predates" : `lines 1-${before} predate`} the key (unkeyed, pinned by the first keyed line)`;
    ctx.io.stdout.write(
      `ok: ${lines}, chain intact; ${keyed} keyed ${keyed === 1 ? "line" : "lines"} authenticated with the key${predate}\n`,
    );
    return EXIT.ok;
  },
};

/** The key from --key-file, --key-env or --config (at most one); undefined when none is given. */
async function chainKeyArg(ctx: CommandContext): Promise<AuditChainKey | undefined> {
  const keyFile = ctx.values["key-file"];
  const keyEnv = ctx.values["key-env"];
  const config = ctx.values["config"];
  const given = [keyFile, keyEnv, config].filter((v) => v !== undefined).length;
  if (given > 1) throw new UsageError("give at most one of --key-file, --key-env and --config");
  if (typeof keyFile === "string") {
    let material: string;
    try {
      material = (await readFile(path.resolve(ctx.io.cwd, keyFile), "utf8")).trim();
    } catch (err) {
      throw new UsageError(`--key-file: cannot read ${printable(keyFile)}: ${readProblem(err)}`);
    }
    return keyOf(material, "--key-file");
  }
  if (typeof keyEnv === "string") {
    const material = (ctx.io.env[keyEnv] ?? "").trim();
    if (material === "")
      throw new UsageError(`--key-env: the environment variable ${printable(keyEnv)} is not set`);
    return keyOf(material, "--key-env");
  }
  if (typeof config !== "string") return undefined;
  // A config without audit.chain_key writes unkeyed files: verify without a key (a keyed file is then reported).
  const cfg = loadCliConfig(ctx);
  if (cfg.audit.chainKey === undefined) return undefined;
  let vault: VaultStack | undefined;
  try {
    if (cfg.audit.chainKey.kind === "vault") vault = await connectVault(cfg);
    const kv = vault?.kv ?? { readData: async () => undefined };
    return await loadAuditChainKey(cfg.audit, { env: ctx.io.env, kv });
  } finally {
    await vault?.close();
  }
}

function keyOf(material: string, option: string): AuditChainKey {
  try {
    return AuditChainKey.of(material);
  } catch {
    throw new UsageError(`${option}: the key has fewer than ${MIN_CHAIN_KEY_BYTES} bytes`);
  }
}

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
