// The bench's own OpenBao dev server (started like the demo's) and the root-token admin calls that seed it.
// Seeding is the bench's setup, not what is measured, so it uses a plain undici Agent of its own.
import { Agent, request } from "undici";
import { type DevServer, findServerBinary, startDevServer } from "../src/demo/dev-vault-server.ts";

export const MOUNT = "secret";

export interface BenchVault {
  readonly server: DevServer;
  readonly addr: string;
  readonly token: string;
  readonly binary: string;
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  must(method: string, path: string, body?: unknown): Promise<unknown>;
  /** PATCH with application/merge-patch+json (KV v2 metadata and data patches). */
  patch(path: string, body: unknown): Promise<{ status: number; body: unknown }>;
  close(): Promise<void>;
}

export async function startBenchVault(): Promise<BenchVault> {
  const binary = findServerBinary();
  if (binary === undefined) throw new Error("no bao or vault binary on PATH or in .tools/venv/bin");
  const token = `bench-root-${process.pid}`;
  const server = await startDevServer(binary, token);
  const agent = new Agent({ connections: 64 });
  const call = async (method: string, path: string, body?: unknown, contentType = "application/json") => {
    const res = await request(`${server.addr}/v1/${path}`, {
      method: method as "GET",
      headers: { "x-vault-token": token, ...(body === undefined ? {} : { "content-type": contentType }) },
      body: body === undefined ? null : JSON.stringify(body),
      dispatcher: agent,
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: text === "" ? undefined : (JSON.parse(text) as unknown) };
  };
  return {
    server,
    addr: server.addr,
    token,
    binary,
    call,
    async must(method, path, body) {
      const res = await call(method, path, body);
      if (res.status >= 300)
        throw new Error(`${method} ${path} → HTTP ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    },
    patch: (path, body) => call("PATCH", path, body, "application/merge-patch+json"),
    async close() {
      await agent.close();
      await server.stop();
    },
  };
}

export interface SeedEntry {
  readonly path: string;
  readonly data: Record<string, string>;
  readonly customMetadata: Record<string, string>;
}

/** Writes each entry's data then its custom_metadata, `concurrency` entries at a time. */
export async function seed(
  vault: BenchVault,
  entries: readonly SeedEntry[],
  concurrency = 32,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < entries.length) {
      const e = entries[next++];
      if (e === undefined) break;
      await vault.must("POST", `${MOUNT}/data/${e.path}`, { data: e.data });
      await vault.must("POST", `${MOUNT}/metadata/${e.path}`, { custom_metadata: e.customMetadata });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, entries.length) }, worker));
}

/** Managed, healthy (state ok) Salesforce ECA credentials: metadata as a team would write it. */
export function managedEntries(prefix: string, from: number, to: number): SeedEntry[] {
  const out: SeedEntry[] = [];
  for (let i = from; i < to; i++) {
    const team = `team-${String(Math.floor(i / 100)).padStart(3, "0")}`;
    const id = String(i).padStart(12, "0");
    out.push({
      path: `${prefix}/${team}/app-${String(i).padStart(5, "0")}`,
      data: { client_id: `3MVG9bench${id}`, api_key: `bench-not-a-secret-${id}` },
      customMetadata: {
        provider: "salesforce-eca",
        eca_app_id: `0xI${id}`,
        credential_type: "oauth_client_secret",
        risk: i % 5 === 0 ? "high" : "standard",
        consumers: "billing-sync,crm-web",
        rotation_contact: "platform-team@example.org",
      },
    });
  }
  return out;
}
