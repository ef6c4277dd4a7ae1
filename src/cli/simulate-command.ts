// `simulate salesforce`: run the bundled Salesforce simulator in the foreground for dry runs. Prints the fake
// admin app's credentials and ready-to-paste Vault seeding commands, then serves until SIGINT/SIGTERM.
// The simulator is loaded only here, on demand: the container image leaves it out (a fake org with fake
// secrets, no real authentication and a test-only admin API has no place beside production credentials), and
// there the command says so in one line instead of failing on a missing module.
import type { SalesforceSimulator, SimulatedApp } from "../simulator/salesforce/salesforce-simulator.ts";
import type { RotateSemantics } from "../simulator/salesforce/sim-settings.ts";
import type { CommandContext, CommandSpec } from "./cli-io.ts";
import { EXIT, UsageError } from "./cli-io.ts";

const SAMPLE_APP = "Sample_Integration";
const SAMPLE_PATH = "secret/api-credentials/salesforce/sample-integration";
const CONNECTION_PATH = "eca-rotator/connections/sim";

// A record over the type, so a semantics added to the simulator cannot be left out here (the module itself is
// loaded only on demand, so its list cannot be imported).
const SEMANTICS: Readonly<Record<RotateSemantics, true>> = {
  overlap: true,
  immediate: true,
  "overlap-new-shown": true,
};
const SEMANTICS_TEXT = Object.keys(SEMANTICS).join(", ");

export const simulateCommand: CommandSpec = {
  name: "simulate",
  help: `Usage: eca-rotator simulate salesforce [--port N] [--host H] [--semantics S]
                                    [--state-file FILE] [--admin-api] [--verbose]

Starts a local, fake Salesforce org: the OAuth token endpoint and the External Client App credentials API
(usage listing, consumers, staged credentials, PATCH rotate). It creates an admin integration app and one
sample ECA (${SAMPLE_APP}) and prints their FAKE credentials with the vault commands that seed a
connection and a managed credential, so a Vault setup can be dry-run before pointing at a real org.
  --port N          listen port (default: a free one)
  --host H          listen address (default 127.0.0.1)
  --semantics S     what PATCH rotate does to the former pair (Salesforce's sources disagree):
                    overlap: it stays valid as the "rotated" staged record until that record is deleted
                      or 30 days pass (default);
                    immediate: it dies at once, and the "rotated" record shows the new pair;
                    overlap-new-shown: the "rotated" record shows the new pair (the same key and secret
                      as main), yet the former pair stays valid until that record is deleted or 30 days pass
  --state-file F    keep the org in this JSON file across restarts
  --admin-api       enable the test-only /__sim/ endpoints
  --verbose         print one line per request (method, path, status; never a secret) on stderr
Runs until Ctrl-C (SIGINT) or SIGTERM, then exits 0.`,
  options: {
    port: { type: "string" },
    host: { type: "string" },
    semantics: { type: "string" },
    "state-file": { type: "string" },
    "admin-api": { type: "boolean" },
    verbose: { type: "boolean", short: "v" },
  },
  positionals: "salesforce",
  async run(ctx) {
    const opts = parseOptions(ctx);
    const simulator = await loadSimulator();
    if (simulator === undefined) {
      ctx.io.stderr.write(
        "error: the Salesforce simulator is not part of this image; run it from the npm package, a source " +
          "checkout, or the image's simulator build target (docker build --target simulator)\n",
      );
      return EXIT.usage;
    }
    // Listen for signals before anything is printed: a signal right after the banner must still stop cleanly.
    const signal = untilSignal();
    let sim: SalesforceSimulator;
    try {
      sim = await listen(ctx, opts, simulator.startSalesforceSimulator);
    } catch (err) {
      signal.cancel();
      throw err;
    }
    try {
      const sample = sim.findApp(SAMPLE_APP) ?? sim.createApp(SAMPLE_APP);
      ctx.io.stdout.write(banner(sim, sample, opts));
      if (!/^(127\.|::1$|localhost$)/.test(opts.host)) {
        ctx.io.stderr.write(
          "warning: listening beyond loopback; the simulator hands out fake secrets and has no real authentication\n",
        );
      }
      await signal.received;
    } finally {
      signal.cancel();
      await sim.close();
    }
    ctx.io.stdout.write("simulator stopped\n");
    return EXIT.ok;
  },
};

interface SimulateOptions {
  port: number;
  host: string;
  semantics: RotateSemantics;
  stateFile: string | undefined;
  adminApi: boolean;
  verbose: boolean;
}

function parseOptions(ctx: CommandContext): SimulateOptions {
  if (ctx.positionals.length !== 1 || ctx.positionals[0] !== "salesforce") {
    throw new UsageError('simulate takes one argument, the system to simulate: "salesforce"');
  }
  const v = ctx.values;
  const portText = typeof v["port"] === "string" ? v["port"] : "0";
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
  if (!(port >= 0 && port <= 65535)) throw new UsageError("--port must be a number from 0 to 65535");
  const semantics = typeof v["semantics"] === "string" ? v["semantics"] : "overlap";
  if (!isSemantics(semantics)) throw new UsageError(`--semantics must be one of ${SEMANTICS_TEXT}`);
  return {
    port,
    host: typeof v["host"] === "string" ? v["host"] : "127.0.0.1",
    semantics,
    stateFile: typeof v["state-file"] === "string" ? v["state-file"] : undefined,
    adminApi: v["admin-api"] === true,
    verbose: v["verbose"] === true,
  };
}

function isSemantics(s: string): s is RotateSemantics {
  return Object.hasOwn(SEMANTICS, s);
}

type SimulatorModule = typeof import("../simulator/salesforce/salesforce-simulator.ts");

/** The simulator module, or undefined where the build left it out (the container image). */
async function loadSimulator(): Promise<SimulatorModule | undefined> {
  try {
    return await import("../simulator/salesforce/salesforce-simulator.ts");
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (
      e.code === "ERR_MODULE_NOT_FOUND" &&
      /[\\/]simulator[\\/]salesforce[\\/]salesforce-simulator\./.test(e.message)
    ) {
      return undefined;
    }
    throw err;
  }
}

async function listen(
  ctx: CommandContext,
  o: SimulateOptions,
  startSalesforceSimulator: SimulatorModule["startSalesforceSimulator"],
): Promise<SalesforceSimulator> {
  try {
    return await startSalesforceSimulator({
      host: o.host,
      port: o.port,
      rotateSemantics: o.semantics,
      adminApi: o.adminApi,
      ...(o.stateFile === undefined ? {} : { stateFile: o.stateFile }),
      ...(o.verbose
        ? {
            onRequest: (e) =>
              ctx.io.stderr.write(`${e.method} ${e.path} -> ${e.status || "dropped"} (${e.ms} ms)\n`),
          }
        : {}),
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE" || code === "EACCES" || code === "EADDRNOTAVAIL") {
      throw new UsageError(`cannot listen on ${o.host}:${o.port} (${code})`);
    }
    throw err;
  }
}

function banner(sim: SalesforceSimulator, sample: SimulatedApp, o: SimulateOptions): string {
  const admin = sim.adminApp;
  const pair = sim.primaryPair(sample.appId, sample.consumerId);
  const meta = [
    "provider=salesforce-eca",
    "sf_connection=sim",
    `eca_app_id=${sample.appId}`,
    `eca_consumer_id=${sample.consumerId}`,
  ]
    .map((m) => `-custom-metadata=${m}`)
    .join(" ");
  return `eca-rotator Salesforce simulator: a FAKE org. Every id, key and secret below is made up and works only here.
url: ${sim.url}
rotate semantics: ${o.semantics}; admin API: ${o.adminApi ? "on (/__sim/)" : "off"}; state file: ${o.stateFile ?? "none (in memory)"}

Admin integration app (client_credentials; eca-rotator logs in with it):
  developer name: ${admin.developerName}
  client id:      ${admin.consumerKey}
  client secret:  ${admin.consumerSecret}   (fake, simulator only)

Sample ECA to rotate: ${sample.developerName}
  app id:         ${sample.appId}
  consumer id:    ${sample.consumerId}

Seed Vault (KV v2 mount "secret"):
  vault kv put secret/${CONNECTION_PATH} client_id=${admin.consumerKey} client_secret=${admin.consumerSecret}
  vault kv put ${SAMPLE_PATH} client_id=${pair.key} api_key=${pair.secret}
  vault kv metadata put ${meta} ${SAMPLE_PATH}

Connection for the eca-rotator config:
  salesforce:
    connections:
      sim:
        my_domain_url: ${sim.url}
        api_version: v65.0
        credentials_path: ${CONNECTION_PATH}

Running; Ctrl-C stops it.
`;
}

function untilSignal(): { received: Promise<void>; cancel(): void } {
  let resolve = () => {};
  const received = new Promise<void>((r) => {
    resolve = r;
  });
  const stop = () => {
    cancel();
    resolve();
  };
  const cancel = () => {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  return { received, cancel };
}
