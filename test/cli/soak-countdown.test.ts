import { describe, expect, it } from "vitest";
import type { CliIo } from "../../src/cli/cli-io.ts";
import { countdown } from "../../src/cli/rotate-command.ts";

function io(tty: boolean): CliIo & { err: string[]; out: string[] } {
  const err: string[] = [];
  const out: string[] = [];
  return {
    err,
    out,
    stdout: { write: (t) => void out.push(t), isTTY: tty },
    stderr: { write: (t) => void err.push(t), isTTY: tty },
    env: {},
    cwd: "/",
  };
}

describe("the soak countdown", () => {
  it("writes whole lines to a pipe and nothing to stdout, then resolves when the time has come", async () => {
    const p = io(false);
    const done = await countdown(
      p,
      new Date(Date.now() + 300),
      "soak of a/b: promotion",
      new AbortController().signal,
    );
    expect(done).toBe(true);
    expect(p.err).toEqual([
      "soak of a/b: promotion in 1s (Ctrl-C stops waiting; run --once finishes later)\n",
    ]);
    expect(p.out).toEqual([]);
  });

  it("redraws one line in place on a terminal and clears it at the end", async () => {
    const p = io(true);
    await countdown(p, new Date(Date.now() + 200), "soak of a/b: promotion", new AbortController().signal);
    expect(p.err[0]?.startsWith("\rsoak of a/b: promotion in 1s (Ctrl-C")).toBe(true);
    expect(p.err[0]?.endsWith("\x1b[K")).toBe(true);
    expect(p.err.at(-1)).toBe("\r\x1b[K");
  });

  it("resolves false when the wait is aborted (Ctrl-C)", async () => {
    const p = io(false);
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 50);
    expect(await countdown(p, new Date(Date.now() + 60_000), "soak of a/b: promotion", stop.signal)).toBe(
      false,
    );
  });
});
