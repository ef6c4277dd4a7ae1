// `eca-rotator audit verify FILE` on files written by the real JsonlFileAuditSink and then tampered with the way a
// person with a text editor would. The main cases run the CLI as a child process, as a user would; the rest call
// the same dispatcher in-process (runCli with captured output), because starting Node dominates the time.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chainLine } from "../../src/adapters/audit/audit-chain.ts";
import { JsonlFileAuditSink } from "../../src/adapters/audit/jsonl-file-audit-sink.ts";
import type { CliIo } from "../../src/cli/cli-io.ts";
import { runCli } from "../../src/cli/run-cli.ts";
import type { AuditEvent } from "../../src/core/rotation/audit-events.ts";
import { runCliProcess } from "../support/run-cli.ts";

let dir: string;
let intact: string[]; // the file's lines without the final empty one

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
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function verify(name: string, lines: readonly string[], mode: "process" | "in-process" = "process") {
  const file = path.join(dir, name);
  await writeFile(file, `${lines.join("\n")}\n`);
  return mode === "process"
    ? runCliProcess(["audit", "verify", file], {}, { timeoutMs: 20_000 })
    : inProcess(["audit", "verify", file]);
}

async function inProcess(args: readonly string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: { write: (t) => out.push(t), isTTY: false },
    stderr: { write: (t) => err.push(t), isTTY: false },
    env: {},
    cwd: dir,
  };
  const code = await runCli(args, io);
  return { code, stdout: out.join(""), stderr: err.join("") };
}

describe.concurrent("eca-rotator audit verify", () => {
  it("exits 0 and counts the lines of an intact file", async () => {
    const res = await verify("intact.jsonl", intact);
    expect(res.stdout).toBe("ok: 5 lines, chain intact\n");
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
