import { describe, expect, it } from "vitest";
import type { CliIo } from "../../src/cli/cli-io.ts";
import { terminalProgress } from "../../src/cli/inventory-run.ts";

function fakeIo(isTTY: boolean): CliIo & { err: string[] } {
  const err: string[] = [];
  return {
    err,
    stdout: { write: () => {}, isTTY },
    stderr: { write: (t) => void err.push(t), isTTY },
    env: {},
    cwd: "/",
  };
}

describe("terminalProgress", () => {
  it("draws a self-overwriting line at most every 100 ms on a terminal and clears it at the end", () => {
    const io = fakeIo(true);
    let t = 1_000;
    const progress = terminalProgress(io, () => t);
    progress.onProgress?.(1, "api-credentials");
    t += 50;
    progress.onProgress?.(2, "api-credentials"); // too soon: skipped
    t += 100;
    progress.onProgress?.(3, "api-credentials");
    progress.done();
    expect(io.err).toEqual([
      "\rscanning api-credentials/ … 1 entries",
      "\rscanning api-credentials/ … 3 entries",
      "\r\x1b[K",
    ]);
  });

  it("writes nothing when stderr is not a terminal (pipes, CI logs)", () => {
    const io = fakeIo(false);
    const progress = terminalProgress(io);
    expect(progress.onProgress).toBeUndefined();
    progress.done();
    expect(io.err).toEqual([]);
  });
});
