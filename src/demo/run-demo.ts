// ./run.sh: start a throw-away OpenBao dev server, seed sample credentials in mixed states, and show what
// eca-rotator sees (`scan`, `report`, `check`) by running the real CLI against it. Ctrl-C (or the end of the
// demo) stops the server; --keep leaves it running until Ctrl-C so you can try the commands yourself.
import { spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { KvV2 } from "../adapters/vault/kv-v2.ts";
import { VaultClient } from "../adapters/vault/vault-client.ts";
import { SecretValue } from "../core/secret-value.ts";
import { type DevServer, findServerBinary, startDevServer } from "./dev-vault-server.ts";
import { seedSamples } from "./seed-samples.ts";

const PREFIX = "api-credentials";
const CLI = path.resolve(import.meta.dirname, "../cli.ts");

function say(text = ""): void {
  process.stdout.write(`${text}\n`);
}

function banner(text: string): void {
  say();
  say(`── ${text} ${"─".repeat(Math.max(0, 70 - text.length))}`);
}

async function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  say(`$ eca-rotator ${args.join(" ")}`);
  const child = spawn(process.execPath, [CLI, ...args], { stdio: "inherit", env });
  const [code] = (await once(child, "exit")) as [number | null];
  return code ?? 1;
}

export async function runDemo(argv: readonly string[]): Promise<number> {
  const keep = argv.includes("--keep");
  const binary = findServerBinary();
  if (!binary) {
    say("No bao or vault binary found. ./run.sh installs one; or put bao/vault on PATH.");
    return 2;
  }
  let server: DevServer | undefined;
  const stop = async () => {
    await server?.stop();
    server = undefined;
  };
  process.once("SIGINT", () => void stop().then(() => process.exit(130)));
  process.once("SIGTERM", () => void stop().then(() => process.exit(143)));
  try {
    banner("1. Starting a throw-away OpenBao dev server (in memory, loopback only)");
    server = await startDevServer(binary, "eca-demo-root");
    say(`${path.basename(binary)} dev server at ${server.addr}`);

    banner(`2. Seeding sample credentials under secret/${PREFIX}/`);
    const client = await VaultClient.connect({
      address: server.addr,
      auth: { method: "token", token: SecretValue.of(server.token), tokenFile: undefined },
    });
    const samples = await seedSamples(new KvV2(client, "secret"), PREFIX, new Date());
    await client.close();
    for (const s of samples) say(`  ${s.path.padEnd(48)} (should show as ${s.expectedState})`);

    // BAO_* would win over VAULT_* (as in the OpenBao client): clear them so the demo talks to its own server.
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      VAULT_ADDR: server.addr,
      VAULT_TOKEN: server.token,
      ECA_ROTATOR_CONFIG: "",
    };
    for (const key of Object.keys(env)) if (key.startsWith("BAO_")) env[key] = undefined;
    banner("3. The inventory: every credential with its deadline and state (metadata only)");
    await runCli(["scan"], env);
    banner("4. The expiry report the weekly cron sends");
    await runCli(["report"], env);
    banner("5. Preflight: is the token allowed to do what the rotator needs?");
    await runCli(["check"], env);

    if (keep) {
      banner("The server keeps running; press Ctrl-C to stop it");
      say(`export VAULT_ADDR=${server.addr} VAULT_TOKEN=${server.token}`);
      say("then try: node src/cli.ts scan --json | node src/cli.ts report --format markdown");
      await new Promise(() => {});
    }
    say();
    say("Done. The dev server is stopped and nothing is left running. Run ./run.sh --keep to explore.");
    return 0;
  } finally {
    await stop();
  }
}

process.exitCode = await runDemo(process.argv.slice(2));
