// Canary values planted as client secrets, consumer keys, access tokens, staged secrets, private keys and in
// every kind of error body must never show up in an error's message, String(err), toLine(), context,
// util.inspect (which includes the cause chain), a verifyPair result or a log line.
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { inspect } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RotatorError } from "../../../src/core/errors.ts";
import { SecretValue } from "../../../src/core/secret-value.ts";
import { html, json, type MalformedPeer, startMalformedPeer } from "./malformed-peer.ts";
import { caught, recordingLog, type SimHarness, startHarness } from "./salesforce-test-kit.ts";

const CANARY = "test-secret-canary-5e1d";
const V = "/services/data/v65.0/apps/oauth";
const APP = "0xIWt0000003lOz";
const CONSUMER = "888Wt000000O8CX";
const STAGED = "0ugWt00000000w5";
const CONSUMER_PATH = `${V}/credentials/${APP}/${CONSUMER}`;

function texts(err: unknown): string[] {
  expect(err).toBeInstanceOf(RotatorError);
  const e = err as RotatorError;
  expect(e.message).not.toContain("\n");
  return [e.message, String(e), e.toLine(), JSON.stringify(e.context), inspect(e, { depth: 6 })];
}

function assertClean(values: readonly unknown[], needles: readonly string[]): void {
  for (const err of values) {
    for (const text of texts(err)) {
      for (const needle of needles) expect(text).not.toContain(needle);
    }
  }
}

let h: SimHarness | undefined;
let peer: MalformedPeer | undefined;
afterEach(async () => {
  await h?.close();
  await peer?.close();
  h = undefined;
  peer = undefined;
});

describe("no secret reaches an error or a log line", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "eca-sf-canary-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps planted client ids and secrets out of login, verify and prove errors against the simulator", async () => {
    h = await startHarness();
    const app = h.sim.createApp("Canary_App");
    const log = recordingLog();
    const errors: unknown[] = [];
    const bad = h.client({
      clientId: `3MVG9${CANARY}-key`,
      clientSecret: SecretValue.of(`${CANARY}-secret`),
      log,
    });
    errors.push(await caught(bad.login()));
    errors.push(await caught(bad.listApps()));
    const good = h.client({ log });
    const unknown = await good.verifyPair(`3MVG9${CANARY}-key`, SecretValue.of(`${CANARY}-s1`), {
      timeoutMs: 50,
      initialDelayMs: 10,
    });
    const wrongSecret = await good.verifyPair(app.consumerKey, SecretValue.of(`${CANARY}-s2`), {
      timeoutMs: 50,
      initialDelayMs: 10,
    });
    expect(unknown.ok || wrongSecret.ok).toBe(false);
    for (const check of [unknown, wrongSecret]) {
      if (check.ok) continue;
      errors.push(check.error);
      expect(JSON.stringify(check)).not.toContain(CANARY);
      expect(inspect(check, { depth: 6 })).not.toContain(CANARY);
    }
    expect(await good.provePairDead(`3MVG9${CANARY}-key`, SecretValue.of(`${CANARY}-s3`))).toEqual({
      dead: true,
      reason: "invalid_client_id",
    });
    // Real pairs from the simulator must not leak either.
    const staged = await good.createStaged(app.appId, app.consumerId);
    errors.push(await caught(good.createStaged(app.appId, app.consumerId)));
    assertClean(errors, [CANARY, app.consumerSecret, staged.secret.reveal(), h.sim.adminApp.consumerSecret]);
    expect(JSON.stringify(log.lines)).not.toContain(CANARY);
  });

  it("keeps echoed secrets out of errors from every kind of bad answer", async () => {
    const p = await startMalformedPeer();
    peer = p;
    const log = recordingLog();
    const errors: unknown[] = [];
    const client = () => p.client({ log, clientSecret: SecretValue.of(`${CANARY}-admin`) });
    const token = "POST /services/oauth2/token";
    const goodToken = json(200, {
      access_token: `00D!${CANARY}-token`,
      instance_url: p.url,
      token_type: "Bearer",
    });

    p.on(token, json(400, { error: "invalid_grant", error_description: `bad secret ${CANARY}` }));
    errors.push(await caught(client().login()));
    p.on(token, json(400, { error: `${CANARY}`, error_description: CANARY }));
    errors.push(await caught(client().login()));
    p.on(token, { status: 200, body: `{"access_token":"00D!${CANARY}-tok` });
    errors.push(await caught(client().login()));
    p.on(token, json(200, { access_token: `${CANARY}`, instance_url: `javascript:${CANARY}` }));
    errors.push(await caught(client().login()));

    p.on(token, goodToken);
    p.on(
      `GET ${V}/usage`,
      json(401, [{ errorCode: "INVALID_SESSION_ID", message: `token ${CANARY}-token` }]),
    );
    errors.push(await caught(client().listApps()));
    p.on(`GET ${V}/usage`, json(403, [{ errorCode: "FUNCTIONALITY_NOT_ENABLED", message: CANARY }]));
    errors.push(await caught(client().listApps()));
    p.on(`GET ${V}/usage`, html(500, `<html>${CANARY}</html>`));
    errors.push(await caught(client().listApps()));
    p.on(`GET ${V}/usage`, html(404, `<html>${CANARY}</html>`));
    errors.push(await caught(client().listApps()));
    p.on(`GET ${V}/usage`, json(200, { apps: [{ identifier: 42, developerName: CANARY }] }));
    errors.push(await caught(client().listApps()));
    p.on(
      `GET ${V}/usage`,
      json(200, {
        apps: [{ identifier: APP, developerName: "A" }],
        nextPageUrl: `https://${CANARY}.example/`,
      }),
    );
    errors.push(await caught(client().listApps()));

    p.on(`GET ${CONSUMER_PATH}`, json(200, { id: "888Wt000000O8CY", key: `${CANARY}-key`, secret: CANARY }));
    errors.push(await caught(client().readConsumer(APP, CONSUMER, "keyandsecret")));
    p.on(`GET ${CONSUMER_PATH}/staged`, {
      status: 200,
      body: `{"stagedCredentials":[{"id":"${STAGED}","secret":"${CANARY}`,
    });
    errors.push(await caught(client().listStaged(APP, CONSUMER)));
    p.on(
      `GET ${CONSUMER_PATH}/staged`,
      json(200, { stagedCredentials: [{ id: STAGED, key: CANARY, secret: CANARY, state: CANARY }] }),
    );
    errors.push(await caught(client().listStaged(APP, CONSUMER)));
    p.on(`POST ${CONSUMER_PATH}/staged`, json(409, [{ errorCode: "INVALID_OPERATION", message: CANARY }]));
    errors.push(await caught(client().createStaged(APP, CONSUMER)));
    p.on(`POST ${CONSUMER_PATH}/staged`, {
      status: 201,
      body: `{"stagedCredentials":[{"secret":"${CANARY}`,
    });
    errors.push(await caught(client().createStaged(APP, CONSUMER)));
    p.on(`POST ${CONSUMER_PATH}/staged`, "hang");
    errors.push(await caught(p.client({ log, timeoutMs: 200 }).createStaged(APP, CONSUMER)));
    p.on(`PATCH ${CONSUMER_PATH}/staged/${STAGED}`, "reset");
    errors.push(await caught(client().rotateStaged(APP, CONSUMER, STAGED)));
    p.on(
      `PATCH ${CONSUMER_PATH}/staged/${STAGED}`,
      json(200, { id: STAGED, key: CANARY, secret: CANARY, state: "active" }),
    );
    errors.push(await caught(client().rotateStaged(APP, CONSUMER, STAGED)));
    p.on(`DELETE ${CONSUMER_PATH}/staged/${STAGED}`, html(502, CANARY));
    errors.push(await caught(client().deleteStaged(APP, CONSUMER, STAGED)));

    expect(errors).toHaveLength(19);
    assertClean(errors, [CANARY]);
    expect(log.lines.length).toBeGreaterThan(0);
    expect(JSON.stringify(log.lines)).not.toContain(CANARY);
    // The planted admin secret and token did go over the wire, where they belong.
    expect(p.requests.some((r) => r.body.includes(`${CANARY}-admin`))).toBe(true);
    expect(p.requests.some((r) => r.authorization === `Bearer 00D!${CANARY}-token`)).toBe(true);
  });

  it("keeps the private key and the signed JWT out of JWT bearer errors", async () => {
    const p = await startMalformedPeer();
    peer = p;
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const keyFile = path.join(dir, "jwt.key");
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    await writeFile(keyFile, pem);
    const junkFile = path.join(dir, "junk.key");
    await writeFile(junkFile, `-----BEGIN PRIVATE KEY-----\n${CANARY}\n-----END PRIVATE KEY-----\n`);
    const connection = (file: string) => ({
      myDomainUrl: p.url,
      apiVersion: "v65.0",
      auth: "jwt_bearer" as const,
      jwtUsername: "admin@example.com",
      jwtPrivateKeyFile: file,
    });
    const log = recordingLog();
    const errors: unknown[] = [];
    errors.push(await caught(p.client({ connection: connection(junkFile), log }).login()));
    // A peer that echoes the whole form, assertion included, in its error description.
    p.on("POST /services/oauth2/token", (_url, body) =>
      json(400, { error: "invalid_grant", error_description: body }),
    );
    errors.push(await caught(p.client({ connection: connection(keyFile), log }).login()));
    const assertion = new URLSearchParams(p.requests.at(-1)?.body ?? "").get("assertion") ?? "";
    expect(assertion.split(".")).toHaveLength(3);
    const keyBody = pem.split("\n")[1] ?? "";
    assertClean(errors, [CANARY, assertion, assertion.split(".")[2] ?? "", keyBody]);
    expect(JSON.stringify(log.lines)).not.toContain(assertion);
  });
});
