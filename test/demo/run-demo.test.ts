// ./run.sh is the README's first command: its demo must show every sample in its intended state and leave
// nothing running.
import { spawn } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { sampleCredentials } from "../../src/demo/sample-credentials.ts";

const DEMO = path.resolve(import.meta.dirname, "../../src/demo/run-demo.ts");

describe("the demo", () => {
  it("shows each sample credential in its intended state and stops its server", async () => {
    const child = spawn(process.execPath, [DEMO], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      out += c.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code, out).toBe(0);

    const scan = out.slice(out.indexOf("$ eca-rotator scan"), out.indexOf("$ eca-rotator report"));
    for (const sample of sampleCredentials("api-credentials", new Date())) {
      const row = scan.split("\n").find((line) => line.startsWith(`${sample.path} `));
      expect(row, `${sample.path} in:\n${scan}`).toBeDefined();
      expect(row?.split(/\s+/)[1]).toBe(sample.expectedState);
    }
    expect(out).toContain("Expiry report");
    expect(out).toMatch(/\[ok\]\s+mount\s+secret\/ is KV version 2/);

    const addr = /dev server at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
    expect(addr).toBeDefined();
    await expect(fetch(`${addr}/v1/sys/health`)).rejects.toThrow();
  }, 60_000);
});
