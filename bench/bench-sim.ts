// Starts bench/sim-process.ts as a child and drives it over HTTP (/__sim/ admin API): new apps, counters.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { createInterface } from "node:readline";
import { Agent, request } from "undici";
import { stopProcess } from "../src/demo/dev-vault-server.ts";

interface BenchApp {
  readonly appId: string;
  readonly consumerId: string;
  readonly consumerKey: string;
  readonly consumerSecret: string;
}

export interface BenchSim {
  readonly url: string;
  readonly adminApp: BenchApp;
  readonly process: ChildProcess;
  createApp(developerName: string): Promise<BenchApp>;
  counters(): Promise<{ promotions: number; stagedPosts: number; tokenRequests: number; apiCalls: number }>;
  close(): Promise<void>;
}

export async function startBenchSim(): Promise<BenchSim> {
  const child = spawn(process.execPath, [path.join(import.meta.dirname, "sim-process.ts")], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const first = await Promise.race([
    once(lines, "line").then(([l]) => String(l)),
    once(child, "exit").then(() => {
      throw new Error("the simulator process exited before listening");
    }),
  ]);
  const info = JSON.parse(first) as { url: string; adminApp: BenchApp };
  const agent = new Agent({ connections: 8 });
  const admin = async (method: "GET" | "POST", p: string, body?: unknown): Promise<unknown> => {
    const res = await request(`${info.url}/__sim/${p}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? null : JSON.stringify(body),
      dispatcher: agent,
    });
    const text = await res.body.text();
    if (res.statusCode >= 300) throw new Error(`simulator ${method} ${p} → HTTP ${res.statusCode} ${text}`);
    return JSON.parse(text) as unknown;
  };
  return {
    url: info.url,
    adminApp: info.adminApp,
    process: child,
    createApp: async (name) => (await admin("POST", "apps", { developerName: name })) as BenchApp,
    counters: async () => (await admin("GET", "counters")) as Awaited<ReturnType<BenchSim["counters"]>>,
    async close() {
      await agent.close();
      await stopProcess(child);
    },
  };
}
