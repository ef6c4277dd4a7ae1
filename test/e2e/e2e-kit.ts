// End-to-end kit: the real `eca-rotator` executable as a child process, the run's real bao server, and a
// Salesforce simulator in the test process (the CLI reaches it over loopback HTTP). Each world has its own KV
// folder e2e/<unique>/ holding the credentials (creds/), the rotator's state (state/) and the admin
// connection's pair (conn/), its own YAML config and its own audit file.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "vitest";
import { verifyAuditChain } from "../../src/adapters/audit/jsonl-file-audit-sink.ts";
import type {
  SalesforceSimulator,
  SimulatedApp,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { cliArgs } from "../support/crash-at.ts";
import { uniqueName, useVault, VaultAdmin } from "../support/vault-admin.ts";
import type { VaultTarget } from "../support/vault-backend.ts";

const CLI = path.resolve(import.meta.dirname, "../../src/cli.ts");
export const MOUNT = "secret";
export const CANARY = "test-secret-canary-e2e-7f3a";

export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface WorldOptions {
  readonly soak?: string;
  readonly verifyTimeout?: string;
  readonly leaseTtl?: string;
  /** false: no audit.file, so audit lines go to stderr. */
  readonly auditFile?: boolean;
  /** Another Vault than the run's dev server (e.g. a standalone server the test restarts); root token. */
  readonly vault?: VaultTarget;
  /** More `vault:` keys (e.g. "timeout: 3s"). */
  readonly vaultExtra?: readonly string[];
  /** More `rotation:` keys (e.g. "scan_interval: 2s"), and more top-level YAML (the daemon's sections). */
  readonly rotationExtra?: readonly string[];
  readonly extraYaml?: readonly string[];
  /**
   * "shipped": the default layout the shipped policies name (credentials under api-credentials/<unique>, state
   * under eca-rotator/<unique>, the connection's pair under eca-rotator/connections/<unique>), so tokens made
   * from policies/*.hcl as they are can be used. Default: everything under e2e/<unique>/.
   */
  readonly layout?: "own-folder" | "shipped";
  /** More keys of the `sim` connection (e.g. "prefixes: [{prefix}/payroll]"; {prefix} is the world's prefix). */
  readonly connectionExtra?: readonly string[];
}

export interface Credential {
  readonly path: string;
  readonly app: SimulatedApp;
  /** The pair KV and Salesforce held before the test acted. */
  readonly oldPair: { key: string; secret: string };
}

export class E2eWorld {
  readonly sim: SalesforceSimulator;
  readonly root: string;
  readonly prefix: string;
  readonly statePrefix: string;
  readonly connPath: string;
  readonly dir: string;
  readonly auditFile: string | undefined;
  readonly configFile: string;
  /** Every stdout and stderr of every CLI run, for the secret checks. */
  readonly outputs: string[] = [];
  readonly vault: VaultTarget;
  readonly admin: VaultAdmin;

  private constructor(sim: SalesforceSimulator, opts: WorldOptions) {
    this.sim = sim;
    this.vault = opts.vault ?? useVault();
    this.admin = new VaultAdmin(this.vault);
    const unique = uniqueName("w");
    if (opts.layout === "shipped") {
      this.root = `api-credentials/${unique}`;
      this.prefix = this.root;
      this.statePrefix = `eca-rotator/${unique}`;
      this.connPath = `eca-rotator/connections/${unique}`;
    } else {
      this.root = `e2e/${unique}`;
      this.prefix = `${this.root}/creds`;
      this.statePrefix = `${this.root}/state`;
      this.connPath = `${this.root}/conn/sim`;
    }
    this.dir = mkdtempSync(path.join(tmpdir(), "eca-e2e-"));
    this.auditFile = opts.auditFile === false ? undefined : path.join(this.dir, "audit.jsonl");
    this.configFile = path.join(this.dir, "config.yaml");
    writeFileSync(
      this.configFile,
      [
        "vault:",
        `  kv_mount: ${MOUNT}`,
        // An explicit vault.timeout in vaultExtra wins over the one derived from the lease.
        ...(opts.vaultExtra?.some((l) => l.startsWith("timeout:")) ? [] : vaultTimeoutFor(opts.leaseTtl)),
        `  prefixes: [${this.prefix}]`,
        `  state_prefix: ${this.statePrefix}`,
        ...(opts.vaultExtra ?? []).map((line) => `  ${line}`),
        "salesforce:",
        "  connections:",
        "    sim:",
        `      my_domain_url: ${sim.url}`,
        `      credentials_path: ${this.connPath}`,
        ...(opts.connectionExtra ?? []).map((line) => `      ${line.replaceAll("{prefix}", this.prefix)}`),
        // The simulator's Marketing Cloud v2/token: the only auth host sfmc secrets may go to in these tests.
        "marketing_cloud:",
        "  tenants:",
        "    sim:",
        `      auth_url: ${sim.url}`,
        "      allow_loopback_http: true",
        "rotation:",
        `  soak: ${opts.soak ?? "0s"}`,
        `  verify_timeout: ${opts.verifyTimeout ?? "20s"}`,
        ...(opts.leaseTtl === undefined ? [] : [`  lease_ttl: ${opts.leaseTtl}`]),
        ...(opts.rotationExtra ?? []).map((line) => `  ${line}`),
        ...(this.auditFile === undefined ? [] : ["audit:", `  file: ${this.auditFile}`]),
        ...(opts.extraYaml ?? []),
        "",
      ].join("\n"),
    );
  }

  static async create(sim: SalesforceSimulator, opts: WorldOptions = {}): Promise<E2eWorld> {
    const w = new E2eWorld(sim, opts);
    await w.admin.seedKv(MOUNT, w.connPath, {
      client_id: sim.adminApp.consumerKey,
      client_secret: sim.adminApp.consumerSecret,
    });
    return w;
  }

  /** A new ECA in the simulator and a managed credential in KV holding its current pair. */
  async credential(
    name: string,
    metadata: Record<string, string> = {},
    data: Record<string, string> = {},
  ): Promise<Credential> {
    const app = this.sim.createApp(uniqueName(name).replace(/[^A-Za-z0-9]/g, "_"));
    const oldPair = this.sim.primaryPair(app.appId, app.consumerId);
    const credPath = `${this.prefix}/${name}`;
    await this.admin.seedKv(
      MOUNT,
      credPath,
      { client_id: oldPair.key, api_key: oldPair.secret, ...data },
      { provider: "salesforce-eca", eca_app_id: app.appId, ...metadata },
    );
    return { path: credPath, app, oldPair };
  }

  /** Runs the CLI with this world's config against the run's Vault; SIGKILLed after `killAfterMs`. */
  async cli(
    args: readonly string[],
    extraEnv: Record<string, string> = {},
    killAfterMs?: number,
  ): Promise<CliRun> {
    const vault = this.vault;
    const run = await runCli(
      [...args, "--config", this.configFile],
      { VAULT_ADDR: vault.addr, VAULT_TOKEN: vault.token, ...extraEnv },
      killAfterMs,
    );
    this.outputs.push(run.stdout, run.stderr);
    return run;
  }

  auditLines(): string[] {
    if (this.auditFile === undefined) return [];
    try {
      return readFileSync(this.auditFile, "utf8").split("\n");
    } catch {
      return [];
    }
  }

  /** The audit file's chain holds, and its event types in order. */
  auditEvents(): Array<{ type: string; rotationId: string; path: string; [k: string]: unknown }> {
    const lines = this.auditLines();
    expect(verifyAuditChain(lines)).toMatchObject({ ok: true });
    return lines.filter((l) => l !== "").map((l) => JSON.parse(l));
  }

  /** None of these strings appears in any CLI output or in the audit file. */
  expectNoLeak(secrets: readonly string[]): void {
    const haystacks = [...this.outputs, this.auditLines().join("\n")];
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThan(8);
      for (const h of haystacks) expect(h).not.toContain(secret);
    }
  }

  async entry(p: string): Promise<KvEntry | undefined> {
    return readEntry(this.admin, p);
  }

  async journal(credPath: string): Promise<KvEntry | undefined> {
    return readEntry(this.admin, `${this.statePrefix}/journal/${credPath}`);
  }

  async lease(credPath: string): Promise<KvEntry | undefined> {
    return readEntry(this.admin, `${this.statePrefix}/leases/${credPath}`);
  }

  /** Every KV entry of this world with all version records, metadata and current data. */
  async snapshot(): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const key of await walk(this.admin, this.root)) {
      const meta = (await this.admin.must("GET", `${MOUNT}/metadata/${key}`)) as { data: unknown };
      out[key] = { metadata: meta.data, data: (await readEntry(this.admin, key))?.data };
    }
    return out;
  }

  /** What Salesforce would change on a rotation: pairs that log in, primary pair, staged posts, promotions. */
  simState(app: SimulatedApp): unknown {
    const { promotions, stagedPosts } = this.sim.counters();
    return {
      valid: this.sim.validPairs(app.appId, app.consumerId),
      primary: this.sim.primaryPair(app.appId, app.consumerId),
      promotions,
      stagedPosts,
    };
  }
}

/**
 * A lease shorter than the default must be at least 3 × vault.timeout (config rule): tests that want a dead
 * owner's lease to lapse within seconds get a Vault timeout of a third of it (whole seconds).
 */
function vaultTimeoutFor(leaseTtl: string | undefined): string[] {
  const seconds = /^(\d+)s$/.exec(leaseTtl ?? "")?.[1];
  if (seconds === undefined || Number(seconds) >= 30) return [];
  return [`  timeout: ${Math.max(1, Math.floor(Number(seconds) / 3))}s`];
}

export interface KvEntry {
  readonly version: number;
  readonly data: Record<string, unknown>;
  readonly meta: Record<string, string>;
}

async function readEntry(admin: VaultAdmin, p: string): Promise<KvEntry | undefined> {
  const meta = await admin.request("GET", `${MOUNT}/metadata/${p}`);
  if (meta.status === 404) return undefined;
  const m = (
    meta.body as { data: { current_version: number; custom_metadata: Record<string, string> | null } }
  ).data;
  const data = await admin.request("GET", `${MOUNT}/data/${p}?version=${m.current_version}`);
  const d = data.status === 404 ? {} : (data.body as { data: { data: Record<string, unknown> } }).data.data;
  return { version: m.current_version, data: d, meta: m.custom_metadata ?? {} };
}

async function walk(admin: VaultAdmin, folder: string): Promise<string[]> {
  const res = await admin.request("LIST", `${MOUNT}/metadata/${folder}`);
  if (res.status === 404) return [];
  const keys = (res.body as { data: { keys: string[] } }).data.keys;
  const out: string[] = [];
  for (const k of keys) {
    if (k.endsWith("/")) out.push(...(await walk(admin, `${folder}/${k.slice(0, -1)}`)));
    else out.push(`${folder}/${k}`);
  }
  return out.sort();
}

/** The executable under this Node, with only the given environment (plus PATH and HOME). */
export async function runCli(
  args: readonly string[],
  env: Record<string, string>,
  timeoutMs = 90_000,
): Promise<CliRun> {
  const child = spawn(process.execPath, cliArgs(CLI, args, env), {
    env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "/tmp", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on("close", (c, s) => resolve([c, s])),
  );
  clearTimeout(timer);
  return { code, signal, stdout, stderr };
}
