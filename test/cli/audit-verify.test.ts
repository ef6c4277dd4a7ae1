// `eca-rotator audit verify FILE` on files written by the real JsonlFileAuditSink and then tampered with the way a
// person with a text editor would, or, for keyed files, the way an attacker who can write the file but lacks the
// chain key would (re-hashing, rewriting with the rotator's own sink unkeyed, downgrading). The main cases run the
// CLI as a child process, as a user would; the rest call the same dispatcher in-process (runCli with captured
// output), because starting Node dominates the time. The chain key is a canary no output may show.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AuditChainKey,
  chainLine,
  JsonlFileAuditSink,
  sha256Hex,
} from "../../src/adapters/audit/jsonl-file-audit-sink.ts";
import type { CliIo } from "../../src/cli/cli-io.ts";
import { runCli } from "../../src/cli/run-cli.ts";
import type { AuditEvent } from "../../src/core/rotation/rotation-state.ts";
import { type CliResult, runCliProcess } from "../support/run-cli.ts";
import { admin, uniqueName, useVault } from "../support/vault-admin.ts";

const KEY_CANARY = "test-secret-canary-audit-chain-key-4f1a9c7d2e";
const WRONG_KEY = "test-secret-canary-not-the-chain-key-8b3e6a";
const KEY = AuditChainKey.of(KEY_CANARY);

let dir: string;
let intact: string[]; // the file's lines without the final empty one
let keyed: string[]; // 5 lines, all keyed
let mixed: string[]; // 3 unkeyed lines, then 3 keyed ones
const outputs: string[] = []; // every stdout and stderr, for the canary check

function event(i: number): AuditEvent {
  return {
    type: i === 4 ? "rotation.completed" : "rotation.staged",
    time: `2026-03-01T10:00:0${i}.000Z`,
    rotationId: "rot-1",
    path: "api-credentials/crm",
    provider: "salesforce-eca",
    mode: "standard",
    trigger: "schedule",
    actor: "scheduler",
    step: i === 4 ? "closed" : "staged",
    kvVersion: i,
  };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "audit-verify-"));
  const sink = new JsonlFileAuditSink(path.join(dir, "source.jsonl"), { fsync: false });
  for (let i = 0; i < 5; i++) await sink.emit(event(i));
  intact = (await readFile(path.join(dir, "source.jsonl"), "utf8")).split("\n").slice(0, -1);
  const keyedSink = new JsonlFileAuditSink(path.join(dir, "keyed-source.jsonl"), {
    fsync: false,
    chainKey: KEY,
  });
  for (let i = 0; i < 5; i++) await keyedSink.emit(event(i));
  keyed = (await readFile(path.join(dir, "keyed-source.jsonl"), "utf8")).split("\n").slice(0, -1);
  // The key turned on for a file that already had lines.
  const mixedFile = path.join(dir, "mixed-source.jsonl");
  const before = new JsonlFileAuditSink(mixedFile, { fsync: false });
  for (let i = 0; i < 3; i++) await before.emit(event(i));
  const after = new JsonlFileAuditSink(mixedFile, { fsync: false, chainKey: KEY });
  for (let i = 3; i < 6; i++) await after.emit(event(i));
  mixed = (await readFile(mixedFile, "utf8")).split("\n").slice(0, -1);
  await writeFile(path.join(dir, "chain.key"), `${KEY_CANARY}\n`);
  await writeFile(path.join(dir, "wrong.key"), WRONG_KEY);
  await writeFile(path.join(dir, "short.key"), "test-secret-canary-short");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function verify(
  name: string,
  lines: readonly string[],
  mode: "process" | "in-process" = "process",
  keyArgs: readonly string[] = [],
  env: Record<string, string> = {},
): Promise<CliResult> {
  const file = path.join(dir, name);
  await writeFile(file, `${lines.join("\n")}\n`);
  const args = ["audit", "verify", file, ...keyArgs];
  const res =
    mode === "process" ? await runCliProcess(args, env, { timeoutMs: 20_000 }) : await inProcess(args, env);
  outputs.push(res.stdout, res.stderr);
  return res;
}

/** The attacker without the key re-hashes lines from `start` on with SHA-256, keeping each line's alg. */
function rehashFrom(lines: readonly string[], start: number, edit: (b: Record<string, unknown>) => void) {
  const out = lines.slice(0, start);
  for (let i = start; i < lines.length; i++) {
    const { hash: _h, ...body } = JSON.parse(lines[i] ?? "") as Record<string, unknown>;
    if (i === start) edit(body);
    body["prev"] = sha256Hex(out[i - 1] ?? "");
    const content = JSON.stringify(body);
    out.push(`${content.slice(0, -1)},"hash":"${sha256Hex(content)}"}`);
  }
  return out;
}

async function inProcess(args: readonly string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: { write: (t) => out.push(t), isTTY: false },
    stderr: { write: (t) => err.push(t), isTTY: false },
    env,
    cwd: dir,
  };
  const code = await runCli(args, io);
  return { code, stdout: out.join(""), stderr: err.join("") };
}

describe.concurrent("eca-rotator audit verify", () => {
  it("exits 0 and counts the lines of an intact file", async () => {
    const res = await verify("intact.jsonl", intact);
    expect(res.stdout).toBe(
      "ok: 5 lines, chain intact (unkeyed: anyone who could write the file could have rewritten it)\n",
    );
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
  });

  it("exits 1 naming the edited line", async () => {
    const edited = [...intact];
    edited[2] = (edited[2] ?? "").replace('"kvVersion":2', '"kvVersion":9');
    const res = await verify("edited.jsonl", edited);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe("broken: line 3: the line does not match its hash (edited)\n");
  });

  it("exits 1 naming the line after an edited line whose own hash was recomputed", async () => {
    const edited = [...intact];
    const body = JSON.parse(edited[2] ?? "") as Record<string, unknown>;
    edited[2] = chainLine({ ...body, kvVersion: 9 }, String(body["prev"]));
    const res = await verify("rehashed.jsonl", edited, "in-process");
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/^broken: line 4: prev does not match the line before/);
  });

  it("exits 1 naming the place of a removed line", async () => {
    const res = await verify(
      "removed.jsonl",
      intact.filter((_, i) => i !== 2),
    );
    expect(res.code).toBe(1);
    expect(res.stdout).toBe(
      "broken: line 3: prev does not match the line before (a line was removed, inserted or reordered)\n",
    );
  });

  it("exits 1 at line 1 when the first line was removed", async () => {
    const res = await verify("removed-first.jsonl", intact.slice(1), "in-process");
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/^broken: line 1: the first line does not start a chain/);
  });

  it("exits 1 naming the first of two swapped lines", async () => {
    const swapped = [...intact];
    [swapped[1], swapped[2]] = [intact[2] ?? "", intact[1] ?? ""];
    const res = await verify("reordered.jsonl", swapped);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/^broken: line 2: prev does not match the line before/);
  });

  it("exits 1 naming an inserted line", async () => {
    const inserted = [...intact.slice(0, 3), intact[1] ?? "", ...intact.slice(3)];
    const res = await verify("inserted.jsonl", inserted);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/^broken: line 4: prev does not match the line before/);
  });

  it("exits 2 with a clear message when the file does not exist", async () => {
    const res = await runCliProcess(["audit", "verify", path.join(dir, "missing.jsonl")]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("cannot read");
    expect(res.stderr).toContain("missing.jsonl: no such file");
    expect(res.stdout).toBe("");
  });

  it("exits 2 when FILE or the subcommand is missing or unknown", async () => {
    const [noFile, noSub, unknown, directory] = await Promise.all([
      inProcess(["audit", "verify"]),
      inProcess(["audit"]),
      inProcess(["audit", "repair", "x.jsonl"]),
      inProcess(["audit", "verify", "."]),
    ]);
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toContain("audit verify needs the audit FILE");
    expect(noSub.code).toBe(2);
    expect(noSub.stderr).toContain('audit needs a subcommand: "audit verify FILE"');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown audit subcommand "repair"');
    expect(directory.code).toBe(2);
    expect(directory.stderr).toContain("cannot read .: it is a directory");
  });
});

describe.concurrent("eca-rotator audit verify with the chain key", () => {
  const keyFile = () => ["--key-file", path.join(dir, "chain.key")];
  const keyEnv = ["--key-env", "AUDIT_CHAIN_KEY"];
  const env = { AUDIT_CHAIN_KEY: KEY_CANARY };
  const allKeyed = "ok: 5 lines, chain intact; 5 keyed lines authenticated with the key\n";

  it("authenticates every keyed line with --key-file and with --key-env", async () => {
    const [byFile, byEnv] = await Promise.all([
      verify("keyed-file.jsonl", keyed, "process", keyFile()),
      verify("keyed-env.jsonl", keyed, "process", keyEnv, env),
    ]);
    for (const res of [byFile, byEnv]) {
      expect(res.stderr).toBe("");
      expect(res.stdout).toBe(allKeyed);
      expect(res.code).toBe(0);
    }
  });

  it("authenticates with audit.chain_key read through --config from a {vault:} reference in the real OpenBao", async () => {
    const vault = useVault();
    const kvPath = `${uniqueName("audit-verify")}/audit`;
    await admin().seedKv("secret", kvPath, { chain_key: KEY_CANARY, wrong: WRONG_KEY });
    const config = async (name: string, field: string) => {
      const file = path.join(dir, name);
      await writeFile(
        file,
        `audit:\n  file: ${path.join(dir, "log", "audit.jsonl")}\n  chain_key: { vault: "${kvPath}#${field}" }\n`,
      );
      return file;
    };
    const vaultEnv = { VAULT_ADDR: vault.addr, VAULT_TOKEN: vault.token };
    const [right, wrong, missing] = await Promise.all([
      verify(
        "keyed-config.jsonl",
        keyed,
        "process",
        ["--config", await config("right.yaml", "chain_key")],
        vaultEnv,
      ),
      verify(
        "keyed-config-wrong.jsonl",
        keyed,
        "process",
        ["--config", await config("wrong.yaml", "wrong")],
        vaultEnv,
      ),
      verify(
        "keyed-config-missing.jsonl",
        keyed,
        "process",
        ["--config", await config("missing.yaml", "none")],
        vaultEnv,
      ),
    ]);
    expect(right.stdout).toBe(allKeyed);
    expect(right.code).toBe(0);
    expect(wrong.stdout).toBe(
      "broken: line 1: the first keyed line does not match the key (the key is wrong, or the line was edited)\n",
    );
    expect(wrong.code).toBe(1);
    expect(missing.stderr).toBe(
      `error: CONFIG_INVALID: audit.chain_key: the KV entry ${kvPath} has no non-empty string field none\n`,
    );
    expect(missing.stdout).toBe("");
    expect(missing.code).toBe(2);
    for (const res of [right, wrong, missing]) expect(res.stdout + res.stderr).not.toContain(vault.token);
  });

  it("exits 2 for a keyed file checked without a key: it cannot be authenticated", async () => {
    const res = await verify("keyed-nokey.jsonl", keyed, "process");
    expect(res.stdout).toBe(
      "unverified: 5 lines, 5 keyed (hmac-sha256): they cannot be authenticated without the key; give --key-file, --key-env or --config\n",
    );
    expect(res.code).toBe(2);
  });

  it("exits 1 for a wrong key", async () => {
    const res = await verify("keyed-wrong.jsonl", keyed, "in-process", [
      "--key-file",
      path.join(dir, "wrong.key"),
    ]);
    expect(res.stdout).toBe(
      "broken: line 1: the first keyed line does not match the key (the key is wrong, or the line was edited)\n",
    );
    expect(res.code).toBe(1);
  });

  it("exits 1 for a keyed line edited and every hash after it recomputed without the key", async () => {
    const forged = rehashFrom(keyed, 2, (b) => {
      b["kvVersion"] = 9;
    });
    // Without the key the forgery passes the link checks: only the key tells.
    const unkeyedView = await verify("forged-nokey.jsonl", forged, "in-process");
    expect(unkeyedView.code).toBe(2);
    const res = await verify("forged.jsonl", forged, "process", keyEnv, env);
    expect(res.stdout).toBe("broken: line 3: the line does not match its HMAC under the key (edited)\n");
    expect(res.code).toBe(1);
  });

  it("exits 1 for a file rewritten from scratch by the rotator's own sink without the key", async () => {
    // The attacker replays the events (one changed) through an unkeyed JsonlFileAuditSink: a perfect SHA-256 chain.
    const file = path.join(dir, "rewritten.jsonl");
    const sink = new JsonlFileAuditSink(file, { fsync: false });
    for (let i = 0; i < 5; i++) await sink.emit({ ...event(i), kvVersion: i === 2 ? 9 : i });
    const rewritten = (await readFile(file, "utf8")).split("\n").slice(0, -1);
    const [withKey, withoutKey] = await Promise.all([
      verify("rewritten-key.jsonl", rewritten, "in-process", keyFile()),
      verify("rewritten-nokey.jsonl", rewritten, "in-process"),
    ]);
    expect(withKey.stdout).toBe(
      "broken: no line is keyed (5 lines, SHA-256 only): the file was written without audit.chain_key, or rewritten without it\n",
    );
    expect(withKey.code).toBe(1);
    // Without the key nothing distinguishes it from an honest unkeyed file: the help says so.
    expect(withoutKey.code).toBe(0);
  });

  it("exits 1 for a downgrade: an unkeyed line appended after keyed ones, with or without the key", async () => {
    const downgraded = [
      ...keyed,
      chainLine({ type: "rotation.completed", rotationId: "rot-x" }, sha256Hex(keyed.at(-1) ?? "")),
    ];
    const [withKey, withoutKey] = await Promise.all([
      verify("downgraded-key.jsonl", downgraded, "process", keyEnv, env),
      verify("downgraded-nokey.jsonl", downgraded, "in-process"),
    ]);
    const broken =
      "broken: line 6: an unkeyed line after keyed lines (the chain was downgraded: written or rewritten without the key)\n";
    expect(withKey.stdout).toBe(broken);
    expect(withKey.code).toBe(1);
    expect(withoutKey.stdout).toBe(broken);
    expect(withoutKey.code).toBe(1);
  });

  it("reports the lines that predate the key when the key was turned on for an existing file", async () => {
    const res = await verify("mixed.jsonl", mixed, "process", keyFile());
    expect(res.stdout).toBe(
      "ok: 6 lines, chain intact; 3 keyed lines authenticated with the key; lines 1-3 predate the key (unkeyed, pinned by the first keyed line)\n",
    );
    expect(res.code).toBe(0);
    // An edited leading line, re-hashed up to the key: the first keyed line no longer matches.
    const edited = [
      ...rehashFrom(mixed.slice(0, 3), 1, (b) => {
        b["kvVersion"] = 9;
      }),
      ...mixed.slice(3),
    ];
    const broken = await verify("mixed-edited.jsonl", edited, "in-process", keyFile());
    expect(broken.stdout).toMatch(/^broken: line 4: prev does not match the line before/);
    expect(broken.code).toBe(1);
  });

  it("does NOT detect whole keyed lines cut off the end (the documented limit)", async () => {
    const res = await verify("truncated.jsonl", keyed.slice(0, 3), "in-process", keyFile());
    expect(res.stdout).toBe("ok: 3 lines, chain intact; 3 keyed lines authenticated with the key\n");
    expect(res.code).toBe(0);
  });

  it("exits 2 on key option mistakes, naming the option and never the key", async () => {
    const file = path.join(dir, "source.jsonl");
    const [two, short, unset, noFile] = await Promise.all([
      inProcess(["audit", "verify", file, ...keyFile(), ...keyEnv], env),
      inProcess(["audit", "verify", file, "--key-file", path.join(dir, "short.key")]),
      inProcess(["audit", "verify", file, ...keyEnv]),
      inProcess(["audit", "verify", file, "--key-file", path.join(dir, "no.key")]),
    ]);
    outputs.push(...[two, short, unset, noFile].flatMap((r) => [r.stdout, r.stderr]));
    expect(two.stderr).toContain("error: give at most one of --key-file, --key-env and --config");
    expect(short.stderr).toContain("error: --key-file: the key has fewer than 32 bytes");
    expect(unset.stderr).toContain("error: --key-env: the environment variable AUDIT_CHAIN_KEY is not set");
    expect(noFile.stderr).toContain("no.key: no such file");
    for (const res of [two, short, unset, noFile]) {
      expect(res.code).toBe(2);
      expect(res.stdout).toBe("");
      expect(res.stderr).not.toContain("test-secret-canary-short");
    }
  });
});

describe("eca-rotator audit verify output", () => {
  it("never shows the chain key, right or wrong, in any stdout or stderr above", () => {
    expect(outputs.length).toBeGreaterThan(20);
    const all = outputs.join("\n");
    expect(all).not.toContain(KEY_CANARY);
    expect(all).not.toContain(WRONG_KEY);
  });
});
