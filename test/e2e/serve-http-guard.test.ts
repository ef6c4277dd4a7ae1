// `eca-rotator serve` as a real process against the run's OpenBao, reached over real TCP: a short API or read
// token stops start-up (exit 2, the key named); with read tokens the daemon answers a DNS-rebinding Host with
// 421 and an unauthenticated status page with 401, keeps its probes open without revealing the inventory,
// counts and summarises the refusals, and refuses a read token that a re-read finds short. Every token is a
// canary that must not appear in the daemon's stdout or stderr.
import { mkdtempSync, writeFileSync } from "node:fs";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { ServeProcess } from "../support/serve-process.ts";
import { freePort } from "../support/vault-backend.ts";
import { E2eWorld } from "./e2e-kit.ts";

const API_TOKEN = "test-secret-canary-guard-e2e-api-0c4f7d2b9a";
const READ_TOKEN = "test-secret-canary-guard-e2e-read-5e8a1b3c7d";
const SHORT_TOKEN = "test-secret-canary-short-9f";
const SERVICE_NAME = "eca-rotator.eca-rotator.svc";

let sim: SalesforceSimulator;
beforeAll(async () => {
  sim = await startSalesforceSimulator();
});
afterAll(async () => {
  await sim?.close();
});

function tokenFiles(tokens: Record<string, string>): Record<string, string> {
  const dir = mkdtempSync(path.join(tmpdir(), "eca-guard-"));
  const files: Record<string, string> = {};
  for (const [name, value] of Object.entries(tokens)) {
    files[name] = path.join(dir, name);
    writeFileSync(files[name], `${value}\n`);
  }
  return files;
}

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** One request over a fresh TCP connection to 127.0.0.1, with exactly the Host header given. */
function call(
  port: number,
  urlPath: string,
  host: string,
  headers: Record<string, string> = {},
  method = "GET",
  body?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: "127.0.0.1", port, path: urlPath, method, agent: false, headers: { ...headers, host } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          text += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const basic = (token: string) => ({
  authorization: `Basic ${Buffer.from(`operator:${token}`).toString("base64")}`,
});

describe("eca-rotator serve: the HTTP face's guards", () => {
  it("refuses to start with a short API or read token: exit 2, one line naming the key, no token", async () => {
    for (const [section, key] of [
      ["api_tokens", "server.api_tokens.ci"],
      ["read_tokens", "server.read_tokens.prometheus"],
    ] as const) {
      const files = tokenFiles({ long: API_TOKEN, short: SHORT_TOKEN });
      const w = await E2eWorld.create(sim, {
        extraYaml: [
          "server:",
          `  listen: 127.0.0.1:${await freePort()}`,
          "  api_tokens:",
          `    ci: { file: ${section === "api_tokens" ? files["short"] : files["long"]} }`,
          ...(section === "read_tokens"
            ? ["  read_tokens:", `    prometheus: { file: ${files["short"]} }`]
            : []),
        ],
      });
      const run = await w.cli(["serve"], {}, 30_000);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr.trim().split("\n")).toEqual([
        `error: CONFIG_INVALID: ${key}: the token is shorter than 32 characters; make a random one with \`openssl rand -hex 32\``,
      ]);
      expect(run.stdout).not.toContain("eca-rotator serving");
      for (const secret of [SHORT_TOKEN, API_TOKEN]) expect(run.stdout + run.stderr).not.toContain(secret);
    }
  }, 60_000);

  it("with read tokens: 421 for a rebinding Host, 401 for an unauthenticated status page, open probes", async () => {
    const port = await freePort();
    const files = tokenFiles({ api: API_TOKEN, read: READ_TOKEN });
    const w = await E2eWorld.create(sim, {
      rotationExtra: ["scan_interval: 1s"],
      extraYaml: [
        "server:",
        `  listen: 127.0.0.1:${port}`,
        `  allowed_hosts: [${SERVICE_NAME}]`,
        "  api_tokens:",
        `    ci: { file: ${files["api"]} }`,
        "  read_tokens:",
        `    prometheus: { file: ${files["read"]} }`,
      ],
    });
    const cred = await w.credential("guarded", {
      last_rotated: new Date().toISOString(),
      rotation_verified_at: new Date().toISOString(),
    });
    const local = `127.0.0.1:${port}`;
    const answers: Answer[] = [];
    const daemon = await ServeProcess.start(["--config", w.configFile], {
      VAULT_ADDR: w.vault.addr,
      VAULT_TOKEN: w.vault.token,
    });
    try {
      // The first scan: the inventory is there to be protected.
      let list: Answer | undefined;
      for (let i = 0; i < 100 && list?.status !== 200; i++) {
        list = await call(port, "/v1/credentials", local, bearer(READ_TOKEN));
        if (list.status !== 200) await new Promise((r) => setTimeout(r, 200));
      }
      expect(list?.body).toContain(cred.path);

      // A page on a rebound name: its requests carry its own name as Host, so the daemon refuses them, even
      // where a browser would add Basic credentials it has cached for that origin.
      for (const [urlPath, headers] of [
        ["/", basic(READ_TOKEN)],
        ["/v1/credentials", {}],
        ["/healthz", {}],
      ] as const) {
        const rebound = await call(port, urlPath, `rebind.attacker.example:${port}`, headers);
        answers.push(rebound);
        expect(rebound.status, urlPath).toBe(421);
        expect(JSON.parse(rebound.body).error.code).toBe("MISDIRECTED_REQUEST");
        expect(rebound.body).not.toContain(cred.path);
      }

      // The status page without a token: 401 and a Basic challenge, nothing of the inventory.
      const page = await call(port, "/", local);
      answers.push(page);
      expect(page.status).toBe(401);
      expect(page.headers["www-authenticate"]).toBe('Basic realm="eca-rotator", charset="UTF-8"');
      expect(page.body).not.toContain("guarded");
      const withBasic = await call(port, "/", local, basic(READ_TOKEN));
      expect(withBasic.status).toBe(200);
      expect(withBasic.body).toContain("guarded");

      // The Service's name and localhost are ours; the API token reads too.
      expect((await call(port, "/v1/credentials", `${SERVICE_NAME}:8080`, bearer(READ_TOKEN))).status).toBe(
        200,
      );
      expect((await call(port, "/v1/credentials", `localhost:${port}`, bearer(API_TOKEN))).status).toBe(200);

      // Probes stay open and say nothing of the inventory.
      expect((await call(port, "/healthz", local)).status).toBe(200);
      const ready = await call(port, "/readyz", local);
      answers.push(ready);
      expect([200, 503]).toContain(ready.status);
      expect(JSON.parse(ready.body).checks.map((c: { name: string }) => c.name)).toEqual(
        expect.arrayContaining(["vault", "scan"]),
      );
      for (const revealing of [cred.path, w.prefix, "guarded"]) expect(ready.body).not.toContain(revealing);

      // Metrics need a token; a read token cannot write; every refusal is counted.
      expect((await call(port, "/metrics", local)).status).toBe(401);
      const write = await call(
        port,
        `/v1/credentials/${cred.path}/rotate`,
        local,
        { ...bearer(READ_TOKEN), "content-type": "application/json" },
        "POST",
        '{"mode":"now"}',
      );
      expect(write.status).toBe(401);
      const metrics = await call(port, "/metrics", local, bearer(READ_TOKEN));
      answers.push(metrics);
      expect(metrics.status).toBe(200);
      expect(metrics.body).toContain(
        'eca_rotator_http_unauthorized_total{access="read",reason="missing"} 2\n',
      );
      expect(metrics.body).toContain(
        'eca_rotator_http_unauthorized_total{access="write",reason="wrong"} 1\n',
      );
      const summary = await daemon.waitForLog(
        (r) => r.msg === "HTTP requests refused for a missing or wrong token",
        5_000,
      );
      expect(summary).toMatchObject({ level: "warn", refused: 1, clients: ["127.0.0.1"] });

      // A re-read that finds the read token shortened refuses it, and does not open the GET routes.
      writeFileSync(files["read"] ?? "", `${SHORT_TOKEN}\n`);
      const refusedAgain = (r: { msg?: string; key?: unknown }) =>
        r.msg?.startsWith("HTTP token refused until replaced") === true &&
        r.key === "server.read_tokens.prometheus";
      for (let i = 0; i < 60 && !daemon.records.some(refusedAgain); i++) {
        expect((await call(port, "/v1/credentials", local, bearer(SHORT_TOKEN))).status).toBe(401);
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(daemon.records.some(refusedAgain)).toBe(true);
      expect((await call(port, "/v1/credentials", local, bearer(SHORT_TOKEN))).status).toBe(401);
      expect((await call(port, "/v1/credentials", local, bearer(READ_TOKEN))).status).toBe(401);
      expect((await call(port, "/", local)).status).toBe(401);
      expect((await call(port, "/v1/credentials", local, bearer(API_TOKEN))).status).toBe(200);

      expect((await daemon.stop("SIGTERM")).code).toBe(0);
      const basicHeaders = [API_TOKEN, READ_TOKEN, SHORT_TOKEN].map((t) =>
        Buffer.from(`operator:${t}`).toString("base64"),
      );
      const output = [daemon.stdout, daemon.stderr, ...answers.map((a) => a.body)].join("\n");
      for (const secret of [API_TOKEN, READ_TOKEN, SHORT_TOKEN, ...basicHeaders]) {
        expect(output).not.toContain(secret);
      }
    } finally {
      daemon.child.kill("SIGKILL");
    }
  }, 90_000);
});
