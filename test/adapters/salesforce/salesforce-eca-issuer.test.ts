// SalesforceEcaIssuer over real HTTP on the simulator: the CredentialIssuer contract in every rotate semantics,
// then what only the adapter does — connection routing, policy errors, no retry of POST staged / PATCH rotate
// (context.uncertain passes through), propagation-aware verification, and no secret in anything it returns
// or throws.
import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { SalesforceEcaIssuer } from "../../../src/adapters/salesforce/salesforce-eca-issuer.ts";
import { isRotatorError } from "../../../src/core/errors.ts";
import type { IssuerTarget } from "../../../src/core/rotation/rotation-ports.ts";
import { SecretValue } from "../../../src/core/secret-value.ts";
import type { SimulatorOptions } from "../../../src/simulator/salesforce/salesforce-simulator.ts";
import {
  describeCredentialIssuerContract,
  type IssuerContractFixture,
  ROTATE_SEMANTICS,
} from "../../contract/credential-issuer-contract.ts";
import { caught, type SimHarness, sharedClock, startHarness } from "./salesforce-test-kit.ts";

const CONNECTION = "prod";
const CANARY = "test-secret-canary-eca-issuer";

async function issuerWorld(opts: SimulatorOptions = {}) {
  const h = await startHarness(opts);
  const app = h.sim.createApp("Billing_Sync");
  const multi = h.sim.createApp("Multi_Consumer_App", { consumers: 2 });
  const issuer = new SalesforceEcaIssuer(
    new Map([[CONNECTION, { client: h.client(), adminClientId: h.sim.adminApp.consumerKey }]]),
  );
  return { h, app, multi, issuer };
}

for (const semantics of ROTATE_SEMANTICS) {
  describeCredentialIssuerContract(
    `SalesforceEcaIssuer on the simulator (${semantics})`,
    async (): Promise<IssuerContractFixture> => {
      const { h, app, multi, issuer } = await issuerWorld({ rotateSemantics: semantics });
      return {
        issuer,
        connection: CONNECTION,
        app: { appId: app.appId, appName: app.developerName, consumerId: app.consumerId },
        multiConsumerApp: {
          appId: multi.appId,
          appName: multi.developerName,
          consumerIds: multi.consumerIds,
        },
        semantics,
        adminClientId: h.sim.adminApp.consumerKey,
        mainPair: (a) => {
          const { key, secret } = h.sim.primaryPair(a.appId, a.consumerId);
          return { clientId: key, secret };
        },
        close: () => h.close(),
      };
    },
  );
}

describe("SalesforceEcaIssuer", () => {
  const harnesses: SimHarness[] = [];
  afterEach(async () => {
    await Promise.all(harnesses.splice(0).map((h) => h.close()));
  });

  async function world(opts: SimulatorOptions = {}) {
    const w = await issuerWorld(opts);
    harnesses.push(w.h);
    const target = await w.issuer.resolveTarget({ connection: CONNECTION, appId: w.app.appId });
    return { ...w, target };
  }

  it("refuses an unknown connection name with CONFIG_INVALID naming it, on every call", async () => {
    const { issuer, app } = await world();
    const target: IssuerTarget = { connection: "staging", appId: app.appId, consumerId: app.consumerId };
    const secret = SecretValue.of(CANARY);
    const calls: Array<Promise<unknown>> = [
      issuer.resolveTarget({ connection: "staging", appId: app.appId }),
      issuer.readMainKey(target),
      issuer.listStaged(target),
      issuer.createStaged(target),
      issuer.deleteStaged(target, "0Ug000000000000AAA"),
      issuer.promote(target, "0Ug000000000000AAA"),
      issuer.verifyPair("staging", app.consumerKey, secret, 0),
      issuer.provePairDead("staging", app.consumerKey, secret),
      issuer.ownClientId("staging"),
      issuer.orgId("staging"),
    ];
    for (const call of calls) {
      const err = await caught(call);
      expect(isRotatorError(err, "CONFIG_INVALID")).toBe(true);
      expect(String((err as Error).message)).toContain('"staging"');
      expect(String((err as Error).message)).toContain(CONNECTION);
    }
  });

  it("routes each connection to its own org and names each one's admin key", async () => {
    const a = await startHarness();
    const b = await startHarness();
    harnesses.push(a, b);
    const appA = a.sim.createApp("Same_Name");
    const appB = b.sim.createApp("Same_Name");
    const issuer = new SalesforceEcaIssuer(
      new Map([
        ["a", { client: a.client(), adminClientId: a.sim.adminApp.consumerKey }],
        ["b", { client: b.client(), adminClientId: b.sim.adminApp.consumerKey }],
      ]),
    );
    const ta = await issuer.resolveTarget({ connection: "a", appName: "Same_Name" });
    const tb = await issuer.resolveTarget({ connection: "b", appName: "Same_Name" });
    expect(ta).toEqual({
      connection: "a",
      appId: appA.appId,
      consumerId: appA.consumerId,
      mainKey: appA.consumerKey,
    });
    expect(tb).toEqual({
      connection: "b",
      appId: appB.appId,
      consumerId: appB.consumerId,
      mainKey: appB.consumerKey,
    });
    expect(await issuer.readMainKey(ta)).toBe(appA.consumerKey);
    expect(await issuer.readMainKey(tb)).toBe(appB.consumerKey);
    expect(await issuer.ownClientId("a")).toBe(a.sim.adminApp.consumerKey);
    expect(await issuer.ownClientId("b")).toBe(b.sim.adminApp.consumerKey);
    expect(await issuer.ownClientId("a")).not.toBe(await issuer.ownClientId("b"));
  });

  it("refuses metadata that names no app, or ids that are not Salesforce ids, with POLICY_INVALID before any call", async () => {
    const { issuer, app, h } = await world();
    const before = h.rec.calls.length;
    const refs = [
      { connection: CONNECTION },
      { connection: CONNECTION, appName: "" },
      { connection: CONNECTION, appId: "../../services/oauth2/token" },
      { connection: CONNECTION, appId: app.appId, consumerId: "888?part=secret" },
    ];
    for (const ref of refs) {
      const err = await caught(issuer.resolveTarget(ref));
      expect(isRotatorError(err, "POLICY_INVALID")).toBe(true);
    }
    expect(h.rec.calls.slice(before)).toEqual([]);
  });

  it("accepts a consumer id in its 15-character form and answers with the 18-character one", async () => {
    const { issuer, app, target } = await world();
    const t = await issuer.resolveTarget({
      connection: CONNECTION,
      appName: app.developerName,
      consumerId: app.consumerId.slice(0, 15),
    });
    expect(t).toEqual(target);
    expect(t.consumerId).toHaveLength(18);
  });

  it("sends POST staged once when the answer is lost, throwing with context.uncertain; listStaged shows the set", async () => {
    const { issuer, h, target } = await world();
    h.sim.addFault({ method: "POST", path: /\/staged$/, commitThenDrop: true, times: 1 });
    const err = await caught(issuer.createStaged(target));
    expect(isRotatorError(err)).toBe(true);
    expect(isRotatorError(err) && err.context["uncertain"]).toBe(true);
    expect(isRotatorError(err) && err.retryable).toBe(false);
    expect(h.rec.calls.filter((c) => c.startsWith("POST ") && c.endsWith("/staged"))).toHaveLength(1);
    expect(h.sim.counters().stagedPosts).toBe(1);
    const listed = await issuer.listStaged(target);
    expect(listed.map((s) => s.state)).toEqual(["active"]);
    expect(listed[0]?.secret).toBeInstanceOf(SecretValue);
  });

  it("sends PATCH rotate once when the answer is lost, throwing with context.uncertain; the main key tells", async () => {
    const { issuer, h, target } = await world();
    const staged = await issuer.createStaged(target);
    h.sim.addFault({ method: "PATCH", path: /\/staged\//, commitThenDrop: true, times: 1 });
    const err = await caught(issuer.promote(target, staged.id));
    expect(isRotatorError(err) && err.context["uncertain"]).toBe(true);
    expect(h.rec.calls.filter((c) => c.startsWith("PATCH "))).toHaveLength(1);
    expect(h.sim.counters().promotions).toBe(1);
    expect(await issuer.readMainKey(target)).toBe(staged.clientId);
  });

  it("answers staged ids in the 18-character form that promote and deleteStaged accept", async () => {
    const { issuer, target } = await world({ stagedUrl15: true });
    const staged = await issuer.createStaged(target);
    expect(staged.id).toHaveLength(18);
    expect((await issuer.listStaged(target)).map((s) => s.id)).toEqual([staged.id]);
    await issuer.promote(target, staged.id);
    const [record] = await issuer.listStaged(target);
    expect(record?.id).toBe(staged.id);
    await issuer.deleteStaged(target, staged.id);
    expect(await issuer.listStaged(target)).toEqual([]);
  });

  it("passes SALESFORCE_NOT_ENABLED through when the org hides consumer secrets from REST", async () => {
    const { issuer, h, target } = await world();
    await issuer.createStaged(target);
    h.sim.setOptions({ restSecretsEnabled: false });
    const err = await caught(issuer.listStaged(target));
    // The simulator refuses the whole staged resource then; the client's code passes through.
    expect(isRotatorError(err, "SALESFORCE_NOT_ENABLED")).toBe(true);
  });

  it("waits out Salesforce's propagation delay in verifyPair and reports invalid_client_id when it runs out", async () => {
    const { clock, sleep } = sharedClock();
    const h = await startHarness({ clock, activationDelayMs: 30_000 });
    harnesses.push(h);
    const app = h.sim.createApp("Slow_Propagation");
    const issuer = new SalesforceEcaIssuer(
      new Map([[CONNECTION, { client: h.client({ sleep }), adminClientId: h.sim.adminApp.consumerKey }]]),
    );
    const target = await issuer.resolveTarget({ connection: CONNECTION, appId: app.appId });
    const staged = await issuer.createStaged(target);
    const secret = staged.secret ?? SecretValue.of("");
    const tooShort = await issuer.verifyPair(CONNECTION, staged.clientId, secret, 5_000);
    expect(tooShort).toMatchObject({ ok: false, code: "invalid_client_id" });
    expect(tooShort.attempts).toBeGreaterThan(1);
    const enough = await issuer.verifyPair(CONNECTION, staged.clientId, secret, 120_000);
    expect(enough.ok).toBe(true);
    expect(enough.attempts).toBeGreaterThan(1);
  });

  it("never puts a secret in an error, or anywhere in what it returns but a SecretValue", async () => {
    const { issuer, h, app, target } = await world();
    const planted = SecretValue.of(CANARY);
    const secrets = [CANARY, h.sim.adminApp.consumerSecret, app.consumerSecret];
    const returned: unknown[] = [];
    const errors: unknown[] = [];
    const record = async (p: Promise<unknown>) => {
      try {
        returned.push(await p);
      } catch (err) {
        errors.push(err);
      }
    };

    await record(issuer.resolveTarget({ connection: CONNECTION, appName: app.developerName }));
    await record(issuer.readMainKey(target));
    const staged = await issuer.createStaged(target);
    returned.push(staged);
    secrets.push(staged.secret?.reveal() ?? "missing");
    await record(issuer.listStaged(target));
    await record(issuer.createStaged(target)); // conflict
    await record(issuer.verifyPair(CONNECTION, staged.clientId, planted, 0));
    await record(issuer.verifyPair(CONNECTION, CANARY, planted, 0));
    await record(issuer.provePairDead(CONNECTION, staged.clientId, planted));
    await record(issuer.verifyPair(CONNECTION, staged.clientId, staged.secret ?? planted, 10_000));
    h.sim.addFault({ method: "PATCH", commitThenDrop: true, times: 1 });
    await record(issuer.promote(target, staged.id)); // uncertain
    await record(issuer.listStaged(target));
    h.sim.addFault({ method: "POST", path: /\/staged$/, status5xxRate: 1, times: 1 });
    await record(issuer.createStaged(target)); // 503: uncertain
    h.sim.addFault({ path: /\/token$/, status5xxRate: 1 });
    await record(issuer.provePairDead(CONNECTION, staged.clientId, planted)); // inconclusive: thrown
    h.sim.clearFaults();
    await record(issuer.resolveTarget({ connection: CONNECTION, appId: CANARY }));

    expect(errors.length).toBeGreaterThanOrEqual(5);
    for (const err of errors) {
      expect(isRotatorError(err)).toBe(true);
      const text = isRotatorError(err)
        ? `${err.message} ${err.toLine()} ${JSON.stringify(err.context)} ${inspect(err)} ${String(err.stack)}`
        : "";
      for (const s of secrets) expect(text).not.toContain(s);
    }
    const shown = `${JSON.stringify(returned)} ${inspect(returned, { depth: 10 })}`;
    for (const s of secrets) expect(shown).not.toContain(s);
  });
});
