import {
  SalesforceClient,
  type SalesforceClientOptions,
  type SalesforceLog,
} from "../../../src/adapters/salesforce/salesforce-client.ts";
import { SecretValue } from "../../../src/core/secret-value.ts";
import { FixedClock } from "../../../src/core/time.ts";
import {
  type SalesforceSimulator,
  type SimulatorOptions,
  startSalesforceSimulator,
} from "../../../src/simulator/salesforce/salesforce-simulator.ts";

import { type RecordingTransport, recordingTransport } from "../../support/recording-transport.ts";

export interface RecordedLine {
  level: "debug" | "warn";
  obj: object;
  msg: string;
}

export function recordingLog(): SalesforceLog & { lines: RecordedLine[] } {
  const lines: RecordedLine[] = [];
  return {
    lines,
    debug: (obj, msg) => lines.push({ level: "debug", obj, msg }),
    warn: (obj, msg) => lines.push({ level: "warn", obj, msg }),
  };
}

/** A FixedClock that the client's sleep advances: backoff pauses take no wall time. */
export function sharedClock(at = "2026-03-01T09:00:00Z"): {
  clock: FixedClock;
  sleep: (ms: number) => Promise<void>;
  slept: number[];
} {
  const clock = new FixedClock(at);
  const slept: number[] = [];
  return {
    clock,
    slept,
    sleep: async (ms: number) => {
      slept.push(ms);
      clock.advance(ms);
    },
  };
}

export interface SimHarness {
  sim: SalesforceSimulator;
  rec: RecordingTransport;
  client(extra?: Partial<SalesforceClientOptions>): SalesforceClient;
  close(): Promise<void>;
}

/** Starts a simulator and builds clients logged in as its admin app (client_credentials, v65.0). */
export async function startHarness(opts: SimulatorOptions = {}): Promise<SimHarness> {
  const sim = await startSalesforceSimulator(opts);
  const rec = recordingTransport();
  const clients: SalesforceClient[] = [];
  return {
    sim,
    rec,
    client(extra = {}) {
      const c = new SalesforceClient({
        connection: {
          myDomainUrl: sim.url,
          apiVersion: "v65.0",
          auth: "client_credentials",
          jwtUsername: undefined,
          jwtPrivateKeyFile: undefined,
        },
        clientId: sim.adminApp.consumerKey,
        clientSecret: SecretValue.of(sim.adminApp.consumerSecret),
        transport: rec.transport,
        timeoutMs: 5_000,
        sleep: async () => {},
        ...(opts.clock ? { clock: opts.clock } : {}),
        ...extra,
      });
      clients.push(c);
      return c;
    },
    async close() {
      await Promise.all(clients.map((c) => c.close()));
      await rec.close();
      await sim.close();
    },
  };
}

/** Awaits `p`, expecting it to reject; returns the rejection. */
export async function caught(p: Promise<unknown> | (() => Promise<unknown>)): Promise<unknown> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}
