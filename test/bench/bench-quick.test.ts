// The benchmark harness works end to end: a --tiny run against its own bao dev server and the simulator writes
// the Markdown report with every section, table and target. Structure only: timings are never asserted.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const dir = mkdtempSync(path.join(tmpdir(), "eca-bench-test-"));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runBench(args: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [path.join(ROOT, "bench/run-bench.ts"), ...args], {
    cwd: ROOT,
    env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "/tmp" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stderr })));
}

/** The body rows of the Markdown table that follows `heading` (the first table after it). */
function tableAfter(md: string, heading: string): string[][] {
  const lines = md.slice(md.indexOf(heading)).split("\n");
  const start = lines.findIndex((l) => l.startsWith("|"));
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(
      line
        .slice(1, -1)
        .split(" | ")
        .map((c) => c.trim()),
    );
  }
  return rows;
}

describe("npm run bench -- --tiny", () => {
  it("writes a report with the machine, the targets and one table per benchmark to the given file", async () => {
    const out = path.join(dir, "bench.md");
    const run = await runBench(["--tiny", "--out", out]);
    expect(run.code, run.stderr).toBe(0);
    const md = readFileSync(out, "utf8");

    expect(md).toContain("**This is a --tiny run");
    const machine = Object.fromEntries(tableAfter(md, "## Machine and conditions").map((r) => [r[0], r[1]]));
    expect(machine["CPU"]).toMatch(/\*\*\d+ cores\*\*/);
    expect(machine["Vault server"]).toMatch(/OpenBao|Vault/);
    expect(machine["Node"]).toBe(process.version);
    expect(machine).toHaveProperty("Other runs (vitest, serve, demo) at start");

    const targets = tableAfter(md, "## Targets");
    expect(targets).toHaveLength(16);
    const target = (start: string) => targets.find((t) => t[0]?.startsWith(start));
    expect(target("Scan, detailed-metadata listing: ≤ 2 ×")?.[1]).toMatch(/^25: [\d.]+×, 50: [\d.]+×$/);
    expect(target("Memory: serve with 10,000 credentials")?.[1]).toMatch(/50 credentials: peak [\d.]+ MB/);
    expect(target("Memory: serve with 100 credentials")?.[1]).toMatch(/10 credentials: peak [\d.]+ MB/);
    expect(target("Memory: RSS per 1,000 credentials")?.[1]).toMatch(/^-?[\d.]+ MB/);
    for (const t of targets) expect(t[2]).toMatch(/^(met|\*\*not met\*\*)$/);

    const scans = tableAfter(md, "## 1. Scan throughput");
    expect(scans.map((r) => r[0])).toEqual(["25", "50"]);
    for (const r of scans) {
      expect(r[1]).toMatch(/ms · [\d,]+\/s · [\d.]+ req\/cred/);
      expect(r[7]).toContain("(est.)");
    }
    expect(md).toMatch(/timed on a sample of 5 keys .* \*\*extrapolated\*\*/);

    const rotations = tableAfter(md, "## 2. Rotation cost");
    expect(rotations.map((r) => r[0])).toEqual(["1", "2"]);
    for (const r of rotations) expect(r[1]).toBe("4 / 4");
    const kinds = tableAfter(md, "The calls of one rotation by what they are for");
    const kind = (system: string, call: string) => kinds.find((k) => k[0] === system && k[1] === call)?.[2];
    expect(kind("Vault", "write journal")).toMatch(/^\d+\.\d\d$/);
    expect(kind("Vault", "read lease")).toBeUndefined(); // the guard reads no lease
    expect(kind("Salesforce", "create staged (POST)")).toBe("1.00");
    expect(kind("Salesforce", "userinfo")).toBe("0.25"); // the org id, asked once in 4 rotations

    const memory = tableAfter(md, "## 3. Memory over time");
    expect(memory.map((r) => r[0])).toEqual(["2", "4", "6", "8", "10", "12", "14", "16", "18", "20"]);
    for (const r of memory) expect(r[3]).toMatch(/^[\d.,]+ MB$/);

    const resident = tableAfter(md, "Resident memory by inventory size");
    // The two serve-fast runs, then the shipped CLI's own serve over the small inventory (2 scans in a tiny run).
    expect(resident.map((r) => r[0])).toEqual([
      "10",
      "50",
      "10: the shipped `dist/cli.js serve`, 2 scans 1 s apart",
    ]);
    expect(resident[2]?.[2]).toMatch(/^[\d.,]+ MB$/); // steady: read from the CLI's own /metrics
    for (const r of resident) {
      expect(r[1]).toMatch(/^[\d.,]+ MB$/); // peak: the kernel's high-water mark, so /proc was read
      expect(r[5]).toMatch(/^< (70|100) MB/);
    }

    const scaling = tableAfter(md, "## 4. Scaling");
    expect(scaling.map((r) => r[0])).toEqual(["25", "50"]);
    const startup = tableAfter(md, "## 5. Start-up");
    expect(startup.map((r) => r[0])).toEqual([
      "`node -e 0` (reference)",
      "`eca-rotator --help`",
      "`node src/cli.ts --help` (from source)",
      "`eca-rotator scan` (10 credentials)",
      "`eca-rotator serve` until /readyz is 200",
    ]);
    for (const r of startup) expect(r[2]).toMatch(/^[\d.]+×$/);
    for (const r of rotations) expect(r[3]).toMatch(/^[\d.]+ \/ [\d.]+ ms \([\d.]+\)$/);

    const feed = tableAfter(md, "## 6. Reader feed");
    expect(feed.map((r) => r[0])).toEqual([
      "unpaced (lines/s)",
      "paced at 5,000/s",
      "memory per 1,000 readers",
      "flush of the whole book",
    ]);
    expect(feed[1]?.[1]).toMatch(/^5,000 lines counted/);

    const latency = tableAfter(md, "Flag-to-rotation latency");
    expect(latency.map((r) => r[0])).toEqual(["flag → rotation started", "flag → rotation completed"]);
  }, 60_000);

  it("refuses a memory size that is not one of the scan sizes, before starting anything", async () => {
    const run = await runBench([
      "--tiny",
      "--sizes",
      "10,20",
      "--memory-entries",
      "15",
      "--out",
      path.join(dir, "x.md"),
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("--memory-entries 15 must be one of --sizes 10,20");
  });
});
