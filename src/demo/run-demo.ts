// ./run.sh: the whole product in one command. Starts a throw-away OpenBao dev server (or uses your Vault when
// VAULT_ADDR and VAULT_TOKEN are set) and the bundled Salesforce simulator on free loopback ports, starts
// `eca-rotator serve` with a short soak, seeds realistic credentials, and narrates what the daemon does: the
// scan, each rotation step, the chat message, then the report and the status page. On its own dev server the
// daemon also follows Vault's audit log (the reader feed), and one credential's consumers read it on their own
// cadence: its rotation promotes once the last of them has read the new pair. Ctrl-C stops everything it
// started (and removes what it wrote to your Vault); --exit-when-done stops once the rotations are done.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { isPlainHttpToRemote } from "../config/config-schema.ts";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../simulator/salesforce/salesforce-simulator.ts";
import { type DemoConsumers, startDemoConsumers } from "./demo-consumers.ts";
import { narrateAudit, narrateLog } from "./demo-narrator.ts";
import { DEMO_MOUNT, type DemoVault, openDemoVault } from "./demo-vault.ts";
import { freePort } from "./dev-vault-server.ts";
import { READERS_SAMPLE, SAMPLE_APPS, type SamplePair } from "./sample-credentials.ts";
import { seedSamples } from "./seed-samples.ts";

const CLI = path.resolve(import.meta.dirname, "../cli.ts");
/** nightly-reporting's next run after the publication: past the 6 s soak, so the rotation visibly waits for it. */
const NIGHTLY_AFTER_S = 12;
const WHAT_HAPPENS: Readonly<Record<string, string>> = {
  overdue: "past its deadline: the scheduler rotates it",
  flagged: "an operator set rotate=now: rotated at once",
  readers: "past its deadline: rotated, and promoted once its consumers have read the new pair",
  due_soon: "inside its warning window: rotated a day before the deadline, not now",
  ok: "healthy: left alone",
  failed: "its last rotation failed: waits for an operator",
  unverified: "rotated but never verified: reported",
  invalid: "broken metadata: reported, never touched",
  unmanaged: "no provider: never touched",
};

function say(text = ""): void {
  process.stdout.write(`${text}\n`);
}

function banner(text: string): void {
  say();
  say(`── ${text} ${"─".repeat(Math.max(0, 74 - text.length))}`);
}

export async function runDemo(argv: readonly string[]): Promise<number> {
  const exitWhenDone = argv.includes("--exit-when-done");
  const unknown = argv.filter((a) => a !== "--exit-when-done");
  if (unknown.length > 0) {
    say(`unknown option ${unknown[0]}; usage: ./run.sh [--exit-when-done]`);
    return 2;
  }
  const dir = mkdtempSync(path.join(tmpdir(), "eca-demo-"));
  let vault: DemoVault | undefined;
  let sim: SalesforceSimulator | undefined;
  let serve: ChildProcess | undefined;
  let consumers: DemoConsumers | undefined;
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      consumers?.stop();
      if (serve !== undefined && serve.exitCode === null) {
        serve.kill("SIGTERM");
        await Promise.race([once(serve, "exit"), sleep(20_000, undefined, { ref: false })]);
      }
      await sim?.close();
      await vault?.close();
      rmSync(dir, { recursive: true, force: true });
    })());
  // A second Ctrl-C while stopping must not kill the demo half-way: the servers it started would outlive it.
  let presses = 0;
  const interrupted = new Promise<void>((resolve) => {
    const onSignal = () => {
      presses += 1;
      if (presses > 1) say("still stopping what the demo started…");
      resolve();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });

  try {
    banner("1. Vault");
    vault = await openDemoVault(process.env, dir);
    say(
      vault.kind === "dev"
        ? `A throw-away OpenBao dev server (in memory, loopback only) at ${vault.addr}`
        : `Your Vault at ${vault.addr}: everything goes under ${DEMO_MOUNT}/${vault.prefix.split("/")[0]}/ and is deleted at the end`,
    );
    const auditLog = vault.auditLog;
    if (auditLog !== undefined)
      say("Its file audit device logs every read: who read which credential, and which version it got.");

    banner("2. Salesforce");
    sim = await startSalesforceSimulator({ adminApi: false });
    const pairs = new Map<string, SamplePair>();
    for (const name of SAMPLE_APPS) {
      const app = sim.createApp(name);
      pairs.set(name, { appId: app.appId, clientId: app.consumerKey, secret: app.consumerSecret });
    }
    await vault.kv.writeData(
      vault.connectionPath,
      { client_id: sim.adminApp.consumerKey, client_secret: sim.adminApp.consumerSecret },
      { cas: 0 },
    );
    say(`The bundled Salesforce simulator at ${sim.url}: an org with the External Client Apps`);
    say(`${SAMPLE_APPS.join(", ")}, and an admin app whose pair the rotator reads from KV.`);

    banner("3. eca-rotator serve");
    const port = await freePort();
    const auditFile = path.join(dir, "audit.jsonl");
    const configFile = path.join(dir, "config.yaml");
    writeFileSync(
      configFile,
      [
        "vault:",
        // Plain http to a Vault that is not on loopback is refused unless the config opts out: the demo does,
        // for the Vault the person running it named in VAULT_ADDR (its own dev server is on loopback).
        ...(isPlainHttpToRemote(vault.addr)
          ? ["  allow_insecure_http: true   # local demo network only: the token travels in clear"]
          : []),
        `  kv_mount: ${DEMO_MOUNT}`,
        `  prefixes: [${vault.prefix}]`,
        `  state_prefix: ${vault.statePrefix}`,
        "salesforce:",
        "  connections:",
        "    sim:",
        `      my_domain_url: ${sim.url}`,
        `      credentials_path: ${vault.connectionPath}`,
        "rotation: { scan_interval: 2s, soak: 6s, verify_timeout: 30s }",
        ...(auditLog === undefined ? [] : [`readers: { file: ${auditLog}, share_interval: 2s }`]),
        `audit: { file: ${auditFile} }`,
        `server: { listen: "127.0.0.1:${port}", status_refresh: 3s, shutdown_timeout: 10s }`,
        "",
      ].join("\n"),
    );
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      VAULT_ADDR: vault.addr,
      VAULT_TOKEN: vault.token,
      ECA_ROTATOR_CONFIG: "",
    };
    for (const key of Object.keys(env)) if (key.startsWith("BAO_")) delete env[key];
    say("Scans every 2 s, soaks 6 s (15 min by default): the config it runs with is");
    say(readFileSync(configFile, "utf8").replace(/^/gm, "  | ").trimEnd());

    const done = new Set<string>();
    let allDone: () => void = () => {};
    const finished = new Promise<void>((resolve) => {
      allDone = resolve;
    });
    serve = spawn(process.execPath, [CLI, "serve", "--config", configFile], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const lastSaid = new Map<string, string>();
    const up = watchLog(serve, (r) => {
      if (r["msg"] === "eca-rotator serving") return true;
      const line = narrateLog(r);
      // A soak waiting for readers is looked at after each of their reads: say only what changed.
      if (line !== undefined && typeof r["path"] === "string") {
        const gist = line.replace(/\d+\w* ago/g, "");
        if (lastSaid.get(r["path"]) === gist) return false;
        lastSaid.set(r["path"], gist);
      }
      // The audit file is polled every 100 ms: a short delay keeps log lines after the step they follow.
      if (line !== undefined) setTimeout(() => say(line), 250);
      return false;
    });
    let stderr = "";
    serve.stderr?.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const started = await Promise.race([
      up,
      once(serve, "exit").then(() => false),
      interrupted.then(() => false),
    ]);
    if (started !== true) {
      say(`serve did not start:\n${stderr}`);
      return 1;
    }
    const url = `http://127.0.0.1:${port}`;
    say(`Up. Status page ${url}/ · metrics ${url}/metrics · API ${url}/v1/credentials`);
    if (auditLog !== undefined) say(`It follows Vault's audit log ${auditLog} (readers.file).`);

    banner(`4. Credentials in ${DEMO_MOUNT}/${vault.prefix}/`);
    const readersPath = `${vault.prefix}/${READERS_SAMPLE}`;
    const dev = vault;
    // The consumers read their credential before the rotator manages it: the feed has seen them on the old pair.
    const samples = await seedSamples(dev.kv, dev.prefix, new Date(), pairs, {
      readers: auditLog !== undefined,
      afterData: async () => {
        if (auditLog === undefined) return;
        consumers = await startDemoConsumers({
          addr: dev.addr,
          token: dev.token,
          mount: DEMO_MOUNT,
          folder: `${dev.prefix}/salesforce`,
          credPath: readersPath,
          say,
        });
      },
    });
    for (const s of samples) {
      const what = s.path === readersPath && auditLog !== undefined ? "readers" : s.expectedState;
      say(`  ${s.path.slice(vault.prefix.length + 1).padEnd(38)} ${WHAT_HAPPENS[what] ?? what}`);
    }
    if (auditLog !== undefined) {
      say(
        `${READERS_SAMPLE} has soak_until=readers: its soak ends once every reader seen reading it has read`,
      );
      say("the new pair (at least 6 s, at most soak_max=60s). Its consumers: crm-sync (AppRole) polls every");
      say(
        `second; nightly-reporting (a token) reads when its next run starts, ${NIGHTLY_AFTER_S} s after the new pair is published.`,
      );
    }
    const expected = samples
      .filter((s) => s.expectedState === "overdue" || s.expectedState === "flagged")
      .map((s) => s.path);

    banner("5. What the daemon does (from its audit file and log)");
    const tail = tailAudit(auditFile, (e) => {
      const line = narrateAudit(e);
      if (line !== undefined) say(line);
      if (e["type"] === "rotation.published" && e["path"] === readersPath && consumers !== undefined) {
        const nightly = consumers;
        const at = Date.parse(String(e["time"])) + NIGHTLY_AFTER_S * 1000;
        setTimeout(() => void nightly.runNightly().catch(() => {}), Math.max(0, at - Date.now())).unref();
      }
      // Its consumers keep polling once the story is told; their later reads would only repeat it.
      if (e["type"] === "rotation.completed" && e["path"] === readersPath) consumers?.stop();
      if (e["type"] === "rotation.completed" && expected.includes(String(e["path"]))) {
        done.add(String(e["path"]));
        if (done.size === expected.length) allDone();
      }
    });
    const outcome = await Promise.race([
      finished.then(() => "done" as const),
      sleep(120_000, undefined, { ref: false }).then(() => "timeout" as const),
      interrupted.then(() => "interrupted" as const),
      once(serve, "exit").then(() => "exited" as const),
    ]);
    await sleep(500); // the chat lines of the last rotation come just after its audit event
    tail.stop();
    if (outcome === "interrupted") return 130;
    if (outcome !== "done") {
      say(`the rotations did not finish (${outcome}):\n${stderr}`);
      return 1;
    }

    banner("6. The report (what the weekly message and `eca-rotator report` show)");
    await runCli(["report", "--config", configFile], env);

    banner("7. Look around");
    say(`Status page:  ${url}/`);
    say(`Metrics:      ${url}/metrics`);
    say(`Credentials:  curl -s ${url}/v1/credentials`);
    say(`Audit file:   eca-rotator audit verify ${auditFile}`);
    if (exitWhenDone) {
      say();
      say("Stopping everything (--exit-when-done).");
      return 0;
    }
    // The dev server's root token is the demo's own throw-away value; a token for your Vault is never printed.
    const auth = vault.kind === "dev" ? `VAULT_ADDR=${vault.addr} VAULT_TOKEN=${vault.token} ` : "";
    const okPath = samples.find((s) => s.expectedState === "ok")?.path ?? "";
    say(`Try: ${auth}vault kv metadata patch -custom-metadata=rotate=now ${DEMO_MOUNT}/${okPath}`);
    say("Press Ctrl-C to stop everything the demo started.");
    const live = tailAudit(
      auditFile,
      (e) => {
        const line = narrateAudit(e);
        if (line !== undefined) say(line);
      },
      true,
    );
    await Promise.race([interrupted, once(serve, "exit")]);
    live.stop();
    return 0;
  } finally {
    await stopAll();
    say(
      vault?.kind === "existing"
        ? "Stopped the daemon and the simulator, and deleted the demo's entries from your Vault. Nothing is left running."
        : "Stopped the daemon, the simulator and the Vault dev server. Nothing is left running.",
    );
  }
}

/** Calls `onRecord` for each JSON log line on the child's stdout; resolves true when it returns true. */
function watchLog(child: ChildProcess, onRecord: (r: Record<string, unknown>) => boolean): Promise<boolean> {
  return new Promise((resolve) => {
    let partial = "";
    child.stdout?.on("data", (c: Buffer) => {
      partial += c.toString();
      const lines = partial.split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        try {
          if (onRecord(JSON.parse(line) as Record<string, unknown>)) resolve(true);
        } catch {
          // not a log record
        }
      }
    });
  });
}

/** Polls the audit file for new lines. `fromEnd`: skip what is already there. */
function tailAudit(
  file: string,
  onEvent: (e: Record<string, unknown>) => void,
  fromEnd = false,
): { stop(): void } {
  let offset = fromEnd ? safeRead(file).length : 0;
  const timer = setInterval(() => {
    const text = safeRead(file);
    const complete = text.lastIndexOf("\n") + 1;
    if (complete <= offset) return;
    for (const line of text.slice(offset, complete).split("\n")) {
      if (line.trim() === "") continue;
      try {
        onEvent(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // a torn line is completed on the next poll
      }
    }
    offset = complete;
  }, 100);
  return { stop: () => clearInterval(timer) };
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

async function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  say(`$ eca-rotator ${args.filter((a, i) => a !== "--config" && args[i - 1] !== "--config").join(" ")}`);
  const child = spawn(process.execPath, [CLI, ...args], { stdio: "inherit", env });
  const [code] = (await once(child, "exit")) as [number | null];
  return code ?? 1;
}

process.exitCode = await runDemo(process.argv.slice(2));
