// ./run.sh is the README's first command: on its own dev server, or on an existing Vault, the demo must show
// the daemon rotating the flagged and the overdue credential step by step, print the chat message and the
// report, and leave nothing running (nor anything behind in an existing Vault). On its own dev server, the
// overdue one waits for its readers: it promotes once the last of its two consumers has read the new pair.
import { spawn } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { useVault, VaultAdmin } from "../support/vault-admin.ts";

const DEMO = path.resolve(import.meta.dirname, "../../src/demo/run-demo.ts");

async function runDemo(
  env: Record<string, string>,
  opts: { interruptAfter?: string } = {},
): Promise<{ code: number | null; out: string }> {
  const args = opts.interruptAfter === undefined ? [DEMO, "--exit-when-done"] : [DEMO];
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "/tmp", NO_COLOR: "1", ...env },
  });
  let out = "";
  let pressed = false;
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString();
    // Like a person pressing Ctrl-C once the demo says so.
    if (opts.interruptAfter !== undefined && out.includes(opts.interruptAfter) && !pressed) {
      pressed = true;
      child.kill("SIGINT");
    }
  });
  child.stderr.on("data", (c: Buffer) => {
    out += c.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  return { code, out };
}

function expectNarratedRotations(out: string, prefix: string): void {
  for (const name of ["support-console", "crm-integration"]) {
    const p = `${prefix}/salesforce/${name}`;
    const lines = out.split("\n").filter((l) => l.includes(`${p}:`));
    const order = [
      "rotation started",
      "Salesforce staged a second",
      "KV version 2 holds the new pair",
      "promoted",
      "revoked and proven dead",
      "✔",
    ].map((step) => lines.findIndex((l) => l.includes(step)));
    expect(
      order.every((i) => i >= 0),
      `${p}:\n${lines.join("\n")}`,
    ).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  }
  expect(out).toMatch(/rotation started \(standard, an operator set rotate: INC-4211/);
  expect(out).toMatch(/crm-integration: rotation started \(standard, by schedule\)/);
  expect(out).toMatch(/💬 chat \(printed here, since no webhook is configured\): Rotated: .*support-console/);
  expect(out).toContain("Expiry report");
  expect(out).toMatch(/Status page: {2}http:\/\/127\.0\.0\.1:\d+\//);
}

async function closed(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return false;
  } catch {
    return true;
  }
}

/** The readers story: consumers on the old pair, one moves at once, the soak waits for the other, then promotes. */
function expectReadersStory(out: string): void {
  const p = "api-credentials/salesforce/crm-integration";
  const lines = out.split("\n");
  const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
  const story = [
    at(new RegExp(`👤 crm-sync read ${p} v1`)),
    at(new RegExp(`👤 nightly-reporting read ${p} v1`)),
    at(new RegExp(`${p}: KV version 2 holds the new pair`)),
    at(new RegExp(`👤 crm-sync read ${p} v2, the new pair`)),
    at(
      new RegExp(
        `${p}: both pairs work; waiting for readers: 1 of 2 moved; waiting for token-nightly-reporting, last read v1 \\d+s ago`,
      ),
    ),
    at(new RegExp(`👤 nightly-reporting read ${p} v2, the new pair`)),
    at(new RegExp(`${p}: promoted: `)),
  ];
  expect(
    story.every((i) => i >= 0),
    out,
  ).toBe(true);
  expect(
    [...story].sort((a, b) => a - b),
    out,
  ).toEqual(story);
  const moved = /the moment the last reader moved: every reader has read v2 \((.*)\)$/m.exec(out)?.[1];
  expect(moved?.split(", ").sort(), out).toEqual(["approle (crm-sync)", "token-nightly-reporting"]);
  expect(out).toContain("2 of 2 readers on the new pair (v2); promoted as soon as every reader had moved");
}

describe("the demo (./run.sh)", () => {
  it("on its own dev server: narrates two rotations, the chat message and the report, then stops everything", async () => {
    const { code, out } = await runDemo({});
    expect(code, out).toBe(0);
    expectNarratedRotations(out, "api-credentials");
    expectReadersStory(out);
    const vault = /OpenBao dev server \(in memory, loopback only\) at (http:\/\/127\.0\.0\.1:\d+)/.exec(
      out,
    )?.[1];
    const sim = /Salesforce simulator at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
    const page = /Status page: {2}(http:\/\/127\.0\.0\.1:\d+)\//.exec(out)?.[1];
    for (const url of [vault, sim, page]) {
      expect(url).toBeDefined();
      expect(await closed(`${url}/`), `${url} still answers`).toBe(true);
    }
    expect(out).toContain("Nothing is left running.");
  }, 120_000);

  it("keeps running until Ctrl-C, then stops everything it started", async () => {
    const { code, out } = await runDemo({}, { interruptAfter: "Press Ctrl-C to stop everything" });
    expect(code, out).toBe(0);
    expect(out).toMatch(
      /Try: VAULT_ADDR=\S+ VAULT_TOKEN=\S+ vault kv metadata patch -custom-metadata=rotate=now secret\/api-credentials\//,
    );
    for (const url of [
      /OpenBao dev server \(in memory, loopback only\) at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1],
      /Status page: {2}(http:\/\/127\.0\.0\.1:\d+)\//.exec(out)?.[1],
    ]) {
      expect(url).toBeDefined();
      expect(await closed(`${url}/`), `${url} still answers`).toBe(true);
    }
    expect(out).toContain("Nothing is left running.");
  }, 120_000);

  it("on an existing Vault: works under a demo folder and deletes it afterwards", async () => {
    const target = useVault();
    // Runs until Ctrl-C so every line it prints, the "Try:" hint too, is checked for the token.
    const { code, out } = await runDemo(
      { VAULT_ADDR: target.addr, VAULT_TOKEN: target.token },
      { interruptAfter: "Press Ctrl-C to stop everything" },
    );
    expect(code, out).toBe(0);
    const folder = /everything goes under secret\/(eca-rotator-demo-[0-9a-f]{8})\//.exec(out)?.[1];
    expect(folder, out).toBeDefined();
    expectNarratedRotations(out, `${folder}/api-credentials`);
    // Your Vault has no audit device the demo can add: no reader feed, no consumers, a soak of time alone.
    expect(out).not.toContain("👤");
    const list = await new VaultAdmin(target).request("LIST", `secret/metadata/${folder}`);
    expect(list.status).toBe(404);
    expect(out).toContain("deleted the demo's entries from your Vault");
    expect(out).not.toContain(target.token);
  }, 120_000);
});
