// deploy/docker-compose.yml without Docker: the file parses and its services are wired as deploy/README.md says
// (healthchecks, depends_on conditions, one network namespace for simulator, seed and rotator); the rotator's
// config loads with the real loader and agrees with the compose file. Then the same pieces run as processes:
// the simulator with the compose command line, the seed script against the run's real server, and `check` and
// `scan` with the compose config (only ports, prefixes and paths moved to this test's own).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { shortTokenProblem } from "../../src/config/config-schema.ts";
import { loadConfig } from "../../src/config/load-config.ts";
import { SecretValue } from "../../src/core/secret-value.ts";
import { runCliProcess } from "../support/run-cli.ts";
import { admin, uniqueName, useVault } from "../support/vault-admin.ts";
import { freePort } from "../support/vault-backend.ts";
import { type Loose, ROOT, repoFile, yamlDocuments } from "./deploy-files.ts";

const DEPLOY = path.join(ROOT, "deploy");
const [compose] = yamlDocuments("deploy/docker-compose.yml") as Loose[];
const services = compose.services as Record<string, Loose>;
const rotator = services["rotator"];
const simulator = services["simulator"];
const seed = services["seed"];

/** The host file bind-mounted at `target` in a service (relative to deploy/, as compose resolves it). */
function bindSource(service: Loose, target: string): string {
  const spec = (service.volumes as string[]).find((v) => v.split(":")[1] === target);
  expect(spec, `a volume is mounted at ${target}`).toBeDefined();
  return path.resolve(DEPLOY, (spec ?? "").split(":")[0] ?? "");
}

function optionValue(args: readonly string[], flag: string): string {
  const i = args.indexOf(flag);
  expect(i, flag).toBeGreaterThanOrEqual(0);
  return args[i + 1] ?? "";
}

const configPath = optionValue(rotator.command, "--config");
const configText = repoFile(path.relative(ROOT, bindSource(rotator, configPath)));
const rotatorEnv = rotator.environment as Record<string, string>;

describe("the compose file", () => {
  it("has Vault in dev mode, the simulator, a one-shot seed and the rotator", () => {
    expect(Object.keys(services).sort()).toEqual(["rotator", "seed", "simulator", "vault"]);
    expect(services["vault"].image).toMatch(/^(openbao\/openbao|hashicorp\/vault):\d/);
    expect(services["vault"].command).toContain("-dev");
    for (const s of [simulator, seed, rotator]) {
      expect(s.build).toMatchObject({ context: "..", dockerfile: "Dockerfile" });
      expect(existsSync(path.resolve(DEPLOY, s.build.context, s.build.dockerfile))).toBe(true);
      expect(s.read_only).toBe(true);
    }
    // The seed and the rotator run the production image (the last stage); only the simulator needs its own
    // target, since the production image does not contain it.
    expect(seed.build.target).toBeUndefined();
    expect(rotator.build.target).toBeUndefined();
    expect(simulator.build.target).toBe("simulator");
    expect(repoFile("Dockerfile")).toMatch(/^FROM \S+ AS simulator$/m);
  });

  it("starts the rotator after Vault and the simulator are healthy and the seed has finished", () => {
    expect(rotator.depends_on).toEqual({
      vault: { condition: "service_healthy" },
      simulator: { condition: "service_healthy" },
      seed: { condition: "service_completed_successfully" },
    });
    expect(seed.depends_on).toEqual({
      vault: { condition: "service_healthy" },
      simulator: { condition: "service_healthy" },
    });
    for (const name of ["vault", "simulator", "rotator"]) {
      expect(services[name].healthcheck.test[0], name).toBe("CMD");
    }
    expect(rotator.healthcheck.test.join(" ")).toContain("http://127.0.0.1:8080/healthz");
    expect(simulator.healthcheck.test.join(" ")).toContain(
      `http://127.0.0.1:${optionValue(simulator.command, "--port")}/`,
    );
  });

  it("runs simulator, seed and rotator in one network namespace so the simulator stays on loopback", () => {
    expect(rotator.network_mode).toBe("service:simulator");
    expect(seed.network_mode).toBe("service:simulator");
    expect(simulator.command.slice(0, 2)).toEqual(["simulate", "salesforce"]);
    expect(optionValue(simulator.command, "--host")).toBe("127.0.0.1");
    expect(simulator.command).toContain("--admin-api");
    expect(optionValue(simulator.command, "--state-file").startsWith("/var/lib/eca-rotator/")).toBe(true);
    expect(simulator.volumes).toContain("simulator-state:/var/lib/eca-rotator");
    expect(simulator.ports).toEqual(["127.0.0.1:8080:8080"]);
    expect(seed.entrypoint).toEqual(["node", "/seed/seed.mjs"]);
    expect(existsSync(bindSource(seed, "/seed/seed.mjs"))).toBe(true);
    expect(seed.environment.SIM_URL).toBe(`http://127.0.0.1:${optionValue(simulator.command, "--port")}`);
    expect(seed.environment.VAULT_TOKEN).toBe(rotatorEnv["VAULT_TOKEN"]);
    expect(services["vault"].environment.BAO_DEV_ROOT_TOKEN_ID).toBe(rotatorEnv["VAULT_TOKEN"]);
  });

  it("gives the rotator a config that loads and agrees with the compose file", () => {
    expect(rotator.command.slice(0, 1)).toEqual(["serve"]);
    const cfg = loadConfig({ file: configPath, env: rotatorEnv, readFile: () => configText });
    expect(cfg.vault.address).toBe(rotatorEnv["VAULT_ADDR"]);
    // The dev server is plain http on the compose network: the config opts out, for the demo only, and says so.
    expect(cfg.vault.allowInsecureHttp).toBe(true);
    expect(configText).toMatch(
      /# For the local demo network only[^\n]*\n(#[^\n]*\n|\s+#[^\n]*\n)*\s+allow_insecure_http: true/,
    );
    expect(cfg.vault.auth.method).toBe("token");
    expect(cfg.server.listen).toBe("0.0.0.0:8080");
    expect(cfg.salesforce.connections).toHaveLength(1);
    expect(cfg.salesforce.connections[0]?.myDomainUrl).toBe(seed.environment.SIM_URL);
    expect(cfg.server.apiTokens.length).toBeGreaterThan(0);
    for (const t of cfg.server.apiTokens) {
      expect(t.ref.kind).toBe("env");
      if (t.ref.kind !== "env") continue;
      const value = rotatorEnv[t.ref.name];
      expect(value, t.ref.name).toBeDefined();
      // serve refuses a shorter token at start-up.
      expect(shortTokenProblem(t.ref.key, SecretValue.of(value ?? ""))).toBeUndefined();
    }
    expect(path.dirname(cfg.audit.file ?? "")).toBe("/var/lib/eca-rotator");
    expect(rotator.volumes).toContain("rotator-state:/var/lib/eca-rotator");
    const grace = /^(\d+)s$/.exec(rotator.stop_grace_period)?.[1];
    expect(Number(grace) * 1000).toBeGreaterThan(cfg.server.shutdownTimeoutMs);
  });
});

describe("the compose services run as processes against the real server", () => {
  let sim: ChildProcess | undefined;
  afterAll(() => {
    sim?.kill("SIGTERM");
  });

  it("seeds a connection and three credentials the compose config can check and scan", async () => {
    const vault = useVault();
    const bao = admin();
    const port = await freePort();
    const dir = mkdtempSync(path.join(tmpdir(), "eca-compose-"));
    const args = simulator.command.map((a: string) =>
      a === optionValue(simulator.command, "--port")
        ? String(port)
        : a === optionValue(simulator.command, "--state-file")
          ? path.join(dir, "sim-org.json")
          : a,
    );
    sim = spawn(process.execPath, [path.join(ROOT, "src/cli.ts"), ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let banner = "";
    sim.stdout?.on("data", (c: Buffer) => {
      banner += c.toString();
    });
    const deadline = Date.now() + 15_000;
    while (!banner.includes("Running;") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(banner).toContain(`url: http://127.0.0.1:${port}`);

    const prefix = uniqueName("compose-creds");
    const connectionPath = `${uniqueName("compose-state")}/connections/sim`;
    const seedEnv = {
      PATH: process.env["PATH"] ?? "",
      ...seed.environment,
      VAULT_ADDR: vault.addr,
      VAULT_TOKEN: vault.token,
      SIM_URL: `http://127.0.0.1:${port}`,
      SEED_PREFIX: prefix,
      CONNECTION_PATH: connectionPath,
    };
    const seedOut = execFileSync(process.execPath, [bindSource(seed, "/seed/seed.mjs")], {
      env: seedEnv,
      encoding: "utf8",
    });
    expect(seedOut).toContain(`seeded secret/${connectionPath}`);
    const meta = await bao.readMetadata("secret", `${prefix}/salesforce/crm-integration`);
    expect(meta.custom_metadata).toMatchObject({
      provider: "salesforce-eca",
      sf_connection: "sim",
      rotate: "now",
    });
    // A second run (compose up again) leaves everything as it is.
    expect(
      execFileSync(process.execPath, [bindSource(seed, "/seed/seed.mjs")], {
        env: seedEnv,
        encoding: "utf8",
      }),
    ).toContain("already seeded");

    const moved = configText
      .replaceAll(seed.environment.SIM_URL, `http://127.0.0.1:${port}`)
      .replaceAll("prefixes: [api-credentials]", `prefixes: [${prefix}]`)
      .replaceAll("credentials_path: eca-rotator/connections/sim", `credentials_path: ${connectionPath}`)
      .replaceAll("state_prefix: eca-rotator", `state_prefix: ${connectionPath.split("/")[0]}`)
      .replaceAll("/var/lib/eca-rotator/audit.jsonl", path.join(dir, "audit.jsonl"))
      .replaceAll("0.0.0.0:8080", `127.0.0.1:${await freePort()}`);
    expect(moved).not.toContain("/var/lib/");
    const file = path.join(dir, "config.yaml");
    writeFileSync(file, moved);
    const env = { ...rotatorEnv, VAULT_ADDR: vault.addr, VAULT_TOKEN: vault.token };

    const check = await runCliProcess(["check", "--config", file], env);
    expect(check.code, check.stdout + check.stderr).toBe(0);

    const scan = await runCliProcess(["scan", "--json", "--config", file], env);
    expect(scan.code, scan.stderr).toBe(0);
    const states = Object.fromEntries(
      (JSON.parse(scan.stdout) as { items: { path: string; state: string }[] }).items.map((c) => [
        c.path.slice(`${prefix}/salesforce/`.length),
        c.state,
      ]),
    );
    expect(states).toEqual({
      "crm-integration": "flagged",
      "payments-gateway": "overdue",
      "partner-portal": "ok",
    });

    // The seeded pair is the app's real one in the simulator: a rotation publishes a new pair.
    const rotate = await runCliProcess(
      ["rotate", `${prefix}/salesforce/crm-integration`, "--no-wait", "--config", file],
      env,
    );
    expect(rotate.code, rotate.stdout + rotate.stderr).toBe(0);
    expect(rotate.stdout).toMatch(/^waiting: /m);
  }, 60_000);
});
