// The repository explains itself: no comment, test name or doc points a reader at a document that is not in it
// (the design notes, issue tracker entries and reviews the project was built from). What a reader needs from them
// is written here instead. Checked over every file git tracks, so a new file is covered the day it lands.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");

/** Names of documents outside the repository, and the ways they were cited. */
const OUTSIDE = [
  /\b(?:product|rotation-protocol|salesforce-api|vault-notes|anchors|house-style)\.md\b/,
  /\bseeds?[ -]0\d\d\b/i,
  /\bissue #?\d+\b/i,
  /\.\.\/shared\b/,
  /\b(?:security|rotation|aesthetics)[- ]review(?:\.md)?\b/i,
];

function trackedTextFiles(): string[] {
  const out = execFileSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" });
  return out
    .split("\0")
    .filter((f) => f !== "" && /\.(?:ts|md|ya?ml|hcl|sh|json|service|txt)$|^\.ci\/|Dockerfile/.test(f))
    .filter((f) => f !== "package-lock.json");
}

describe("the repository cites no document outside it", () => {
  it("has no such citation in any tracked source, test, script or doc", () => {
    const hits: string[] = [];
    const self = path.relative(ROOT, import.meta.filename);
    for (const file of trackedTextFiles()) {
      if (file === self) continue;
      let text: string;
      try {
        text = readFileSync(path.join(ROOT, file), "utf8");
      } catch {
        continue; // deleted in the work tree but not yet in the index
      }
      text.split("\n").forEach((line, i) => {
        if (OUTSIDE.some((re) => re.test(line))) hits.push(`${file}:${i + 1}: ${line.trim().slice(0, 120)}`);
      });
    }
    expect(hits).toEqual([]);
  });

  it("recognises each form of citation it is meant to catch", () => {
    const samples = [
      "see product.md 1.2",
      "(salesforce-api.md section 7)",
      "seed 003's shell loop",
      "the seed-000 transcript",
      "target (issue 7)",
      "../shared/reviews",
      "as the security review found",
    ];
    for (const s of samples)
      expect(
        OUTSIDE.some((re) => re.test(s)),
        s,
      ).toBe(true);
    for (const s of [
      "ROTATION_VERIFY_FAILED",
      "docs/security-model.md",
      "seeded 10,000 entries",
      "no issues",
    ]) {
      expect(
        OUTSIDE.some((re) => re.test(s)),
        s,
      ).toBe(false);
    }
  });
});
