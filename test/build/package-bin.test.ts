// The package's `bin` (dist/cli.js) is what users of `npx eca-rotator` and the container run: build it into
// a temp folder with the package's build (scripts/build.ts: tsc, then the bundle) and start it.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
// Inside the project, like dist/: node_modules resolve and package.json sits two levels up, as for dist/cli/.
const out = mkdtempSync(path.join(ROOT, ".build-test-"));

afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("the built package", () => {
  it("compiles to a runnable bin that answers --help and --version", () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
      version: string;
      bin: Record<string, string>;
    };
    expect(pkg.bin["eca-rotator"]).toBe("dist/cli.js");
    execFileSync(process.execPath, [path.join(ROOT, "scripts/build.ts"), "--out-dir", out], { cwd: ROOT });
    const cli = path.join(out, "cli.js");
    const help = execFileSync(process.execPath, [cli, "--help"], { encoding: "utf8" });
    for (const command of ["scan", "report", "check"]) expect(help).toContain(`  ${command} `);
    expect(
      execFileSync(process.execPath, [cli, "--version"], { encoding: "utf8", cwd: tmpdir() }).trim(),
    ).toMatch(/^\d+\.\d+\.\d+/);
  }, 60_000);
});
