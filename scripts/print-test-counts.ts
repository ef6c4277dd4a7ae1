// Prints "N passed, N failed" from vitest's JSON report. Skipped or todo tests are counted and shown, never
// folded into "passed". A missing or unreadable report counts as a failure, so CI cannot go green on nothing.
import { readFileSync } from "node:fs";

const file = process.argv[2];
try {
  if (!file) throw new Error("usage: print-test-counts FILE");
  const report = JSON.parse(readFileSync(file, "utf8")) as {
    numPassedTests: number;
    numFailedTests: number;
    numPendingTests: number;
    numTodoTests: number;
    numTotalTests: number;
    testResults: { status: string; assertionResults: unknown[] }[];
  };
  const skipped = report.numPendingTests + report.numTodoTests;
  // A file that fails to load has no tests in it: count it as a failure so the total cannot look clean.
  const brokenFiles = report.testResults.filter(
    (f) => f.status === "failed" && f.assertionResults.length === 0,
  ).length;
  const failed = report.numFailedTests + brokenFiles;
  const tail = skipped > 0 ? `, ${skipped} skipped` : "";
  console.log(`${report.numPassedTests} passed, ${failed} failed${tail}`);
  process.exitCode = failed > 0 || report.numTotalTests === 0 ? 1 : 0;
} catch (err) {
  console.log(`0 passed, 1 failed (${(err as Error).message})`);
  process.exitCode = 1;
}
