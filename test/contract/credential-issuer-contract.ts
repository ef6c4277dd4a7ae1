// The CredentialIssuer contract (src/core/rotation/rotation-ports.ts) as a reusable suite: run it against the
// Salesforce adapter over real HTTP on the simulator (test/adapters/salesforce/salesforce-eca-issuer.test.ts)
// and against the in-memory fake the engine's unit tests use, so the fake keeps the real issuer's behaviour.
// Every runner runs it once per rotate semantics (ROTATE_SEMANTICS): Salesforce's sources disagree on what
// promotion does with the former main pair, and the engine must be right under each reading.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isRotatorError, type RotatorError } from "../../src/core/errors.ts";
import type {
  CredentialIssuer,
  ResolvedTarget,
  StagedCredential,
} from "../../src/core/rotation/rotation-ports.ts";
import { SecretValue } from "../../src/core/secret-value.ts";
import { ROTATE_SEMANTICS, type RotateSemantics } from "../../src/simulator/salesforce/sim-settings.ts";

export { ROTATE_SEMANTICS };

interface IssuerContractApp {
  /** 18 characters. */
  readonly appId: string;
  readonly appName: string;
  /** 18 characters. */
  readonly consumerId: string;
}

const DEAD = { dead: true, answer: "invalid_client_id" } as const;

export interface IssuerContractFixture {
  readonly issuer: CredentialIssuer;
  readonly connection: string;
  /** An app with exactly one consumer, never rotated, no staged set. */
  readonly app: IssuerContractApp;
  /** An app with two or more consumers (18-character ids, first one first). */
  readonly multiConsumerApp: {
    readonly appId: string;
    readonly appName: string;
    readonly consumerIds: readonly string[];
  };
  /** What PATCH rotate does to the former main pair. */
  readonly semantics: RotateSemantics;
  /** The consumer key of the admin app the issuer logs in with on `connection`. */
  readonly adminClientId: string;
  /** The consumer's main pair now, read around the issuer (from the simulator or the fake itself). */
  mainPair(app: IssuerContractApp): { clientId: string; secret: string };
  close?(): Promise<void>;
}

export type IssuerContractSetup = () => Promise<IssuerContractFixture>;

/** Syntactically valid ids that no setup creates. */
const UNKNOWN_CONSUMER_ID = "888000000000000AAA";
const UNKNOWN_STAGED_ID = "0Ug000000000000AAA";
const CANARY = "test-secret-canary-issuer-contract";
const VERIFY_TIMEOUT_MS = 10_000;

async function rejection(p: Promise<unknown>): Promise<RotatorError> {
  try {
    await p;
  } catch (err) {
    if (isRotatorError(err)) return err;
    throw err;
  }
  throw new Error("expected a rejection, but the call succeeded");
}

function expectSecretFree(value: unknown, secrets: readonly string[]): void {
  const text = isRotatorError(value)
    ? `${value.message} ${JSON.stringify(value.context)}`
    : JSON.stringify(value);
  for (const s of secrets) expect(text).not.toContain(s);
}

export function describeCredentialIssuerContract(name: string, setup: IssuerContractSetup): void {
  describe(`CredentialIssuer contract: ${name}`, () => {
    let f: IssuerContractFixture;
    let target: ResolvedTarget;

    beforeEach(async () => {
      f = await setup();
      target = await f.issuer.resolveTarget({ connection: f.connection, appId: f.app.appId });
    });

    afterEach(async () => {
      await f.close?.();
    });

    const stage = async (): Promise<StagedCredential & { secret: SecretValue }> => {
      const s = await f.issuer.createStaged(target);
      if (s.secret === undefined) throw new Error("createStaged returned no secret");
      return { ...s, secret: s.secret };
    };

    describe("resolveTarget", () => {
      it("resolves an 18-character app id to the app's only consumer", () => {
        const { mainKey: _shown, ...ids } = target;
        expect(ids).toEqual({
          connection: f.connection,
          appId: f.app.appId,
          consumerId: f.app.consumerId,
        });
      });
      it("shows, when it shows one, the main key a read of the main key gives", async () => {
        if (target.mainKey !== undefined) expect(target.mainKey).toBe(await f.issuer.readMainKey(target));
        const promotedOnce = await stage();
        await f.issuer.promote(target, promotedOnce.id);
        const again = await f.issuer.resolveTarget({ connection: f.connection, appId: f.app.appId });
        const main = await f.issuer.readMainKey(target);
        expect(main).toBe(promotedOnce.clientId);
        if (again.mainKey !== undefined) expect(again.mainKey).toBe(main);
      });

      it("resolves the 15-character form of the app id to the same 18-character target", async () => {
        const t = await f.issuer.resolveTarget({ connection: f.connection, appId: f.app.appId.slice(0, 15) });
        expect(t).toEqual(target);
      });

      it("resolves the app's developer name to the same target", async () => {
        const t = await f.issuer.resolveTarget({ connection: f.connection, appName: f.app.appName });
        expect(t).toEqual(target);
      });

      it("accepts a named consumer id that belongs to the app", async () => {
        const t = await f.issuer.resolveTarget({
          connection: f.connection,
          appId: f.app.appId,
          consumerId: f.app.consumerId,
        });
        expect(t).toEqual(target);
      });

      it("refuses a consumer id the app does not have with SALESFORCE_NOT_FOUND", async () => {
        const err = await rejection(
          f.issuer.resolveTarget({
            connection: f.connection,
            appId: f.app.appId,
            consumerId: UNKNOWN_CONSUMER_ID,
          }),
        );
        expect(err.code).toBe("SALESFORCE_NOT_FOUND");
      });

      it("refuses an app name nobody has with SALESFORCE_NOT_FOUND", async () => {
        const err = await rejection(
          f.issuer.resolveTarget({ connection: f.connection, appName: "No_Such_App_Anywhere" }),
        );
        expect(err.code).toBe("SALESFORCE_NOT_FOUND");
      });

      it("refuses an app with several consumers and no consumer id with POLICY_INVALID (by name and by id)", async () => {
        const m = f.multiConsumerApp;
        const byName = await rejection(
          f.issuer.resolveTarget({ connection: f.connection, appName: m.appName }),
        );
        expect(byName.code).toBe("POLICY_INVALID");
        expect(byName.message).toContain("eca_consumer_id");
        const byId = await rejection(f.issuer.resolveTarget({ connection: f.connection, appId: m.appId }));
        expect(byId.code).toBe("POLICY_INVALID");
      });

      it("resolves an app with several consumers when the consumer id is named", async () => {
        const m = f.multiConsumerApp;
        const second = m.consumerIds[1] ?? "";
        const byId = await f.issuer.resolveTarget({
          connection: f.connection,
          appId: m.appId,
          consumerId: second,
        });
        expect(byId).toMatchObject({ connection: f.connection, appId: m.appId, consumerId: second });
        if (byId.mainKey !== undefined) expect(byId.mainKey).toBe(await f.issuer.readMainKey(byId));
        const byName = await f.issuer.resolveTarget({
          connection: f.connection,
          appName: m.appName,
          consumerId: second,
        });
        expect(byName).toEqual(byId);
      });
    });

    describe("main key and staged sets", () => {
      it("reads the consumer's main key", async () => {
        expect(await f.issuer.readMainKey(target)).toBe(f.mainPair(f.app).clientId);
      });

      it("lists no staged set for a consumer that was never rotated", async () => {
        expect(await f.issuer.listStaged(target)).toEqual([]);
      });

      it("creates an active staged set with a new pair that listStaged then shows with its secret", async () => {
        const main = f.mainPair(f.app);
        const s = await stage();
        expect(s.state).toBe("active");
        expect(s.clientId).not.toBe(main.clientId);
        expect(s.secret.reveal()).not.toBe(main.secret);
        const listed = await f.issuer.listStaged(target);
        expect(listed).toHaveLength(1);
        const [only] = listed;
        expect(only?.id).toBe(s.id);
        expect(only?.clientId).toBe(s.clientId);
        expect(only?.state).toBe("active");
        expect(only?.secret?.reveal()).toBe(s.secret.reveal());
        expect(await f.issuer.readMainKey(target)).toBe(main.clientId);
      });

      it("never shows a staged secret in the JSON of what it returns", async () => {
        const s = await stage();
        const listed = await f.issuer.listStaged(target);
        expectSecretFree([s, listed], [s.secret.reveal(), f.mainPair(f.app).secret]);
        expect(JSON.stringify(s)).toContain("[redacted]");
      });

      it("verifies the staged pair while the main pair keeps working", async () => {
        const main = f.mainPair(f.app);
        const s = await stage();
        const result = await f.issuer.verifyPair(f.connection, s.clientId, s.secret, VERIFY_TIMEOUT_MS);
        expect(result.ok).toBe(true);
        expect(result.attempts).toBeGreaterThanOrEqual(1);
        expect(
          await f.issuer.provePairDead(f.connection, main.clientId, SecretValue.of(main.secret)),
        ).toMatchObject({ dead: false });
      });

      it("refuses a second staged set while one is active with SALESFORCE_STAGED_CONFLICT and keeps the first", async () => {
        const s = await stage();
        const err = await rejection(f.issuer.createStaged(target));
        expect(err.code).toBe("SALESFORCE_STAGED_CONFLICT");
        expect(err.context["uncertain"]).not.toBe(true);
        const listed = await f.issuer.listStaged(target);
        expect(listed.map((x) => [x.id, x.clientId, x.state])).toEqual([[s.id, s.clientId, "active"]]);
      });

      it("deletes a staged set, and deleting it again is fine", async () => {
        const main = f.mainPair(f.app);
        const s = await stage();
        expect(await f.issuer.deleteStaged(target, s.id)).toBe(true);
        expect(await f.issuer.deleteStaged(target, s.id)).toBe(false);
        expect(await f.issuer.listStaged(target)).toEqual([]);
        expect(await f.issuer.provePairDead(f.connection, s.clientId, s.secret)).toEqual(DEAD);
        expect(await f.issuer.readMainKey(target)).toBe(main.clientId);
      });

      it("deleting a staged id that never existed is fine", async () => {
        expect(await f.issuer.deleteStaged(target, UNKNOWN_STAGED_ID)).toBe(false);
        expect(await f.issuer.listStaged(target)).toEqual([]);
      });
    });

    describe("promote", () => {
      it("makes the staged pair the main pair", async () => {
        const s = await stage();
        await f.issuer.promote(target, s.id);
        expect(await f.issuer.readMainKey(target)).toBe(s.clientId);
        expect(f.mainPair(f.app)).toEqual({ clientId: s.clientId, secret: s.secret.reveal() });
        const asMain = await f.issuer.verifyPair(f.connection, s.clientId, s.secret, VERIFY_TIMEOUT_MS);
        expect(asMain.ok).toBe(true);
      });

      it("treats the former main pair as the semantics say", async () => {
        const old = f.mainPair(f.app);
        const oldSecret = SecretValue.of(old.secret);
        const s = await stage();
        await f.issuer.promote(target, s.id);
        const records = await f.issuer.listStaged(target);
        expect(records.map((r) => r.state)).toEqual(["rotated"]);
        const record = records[0];
        if (!record) throw new Error("no rotated record");
        // overlap shows the former pair in the record; immediate and overlap-new-shown show the promoted one.
        expect(record.clientId).toBe(f.semantics === "overlap" ? old.clientId : s.clientId);
        if (f.semantics === "immediate") {
          expect(await f.issuer.provePairDead(f.connection, old.clientId, oldSecret)).toEqual(DEAD);
        } else {
          // The former pair lingers with the rotated record until that record is deleted, whatever it shows.
          expect(await f.issuer.provePairDead(f.connection, old.clientId, oldSecret)).toMatchObject({
            dead: false,
          });
          const alive = await f.issuer.verifyPair(f.connection, old.clientId, oldSecret, VERIFY_TIMEOUT_MS);
          expect(alive.ok).toBe(true);
        }
        expect(await f.issuer.deleteStaged(target, record.id)).toBe(true);
        expect(await f.issuer.deleteStaged(target, record.id)).toBe(false);
        expect(await f.issuer.listStaged(target)).toEqual([]);
        expect(await f.issuer.provePairDead(f.connection, old.clientId, oldSecret)).toEqual(DEAD);
        // Deleting the rotated record never touches the promoted pair.
        expect(await f.issuer.provePairDead(f.connection, s.clientId, s.secret)).toMatchObject({
          dead: false,
        });
        expect(await f.issuer.readMainKey(target)).toBe(s.clientId);
      });

      it("refuses a staged id that does not exist with SALESFORCE_NOT_FOUND and changes nothing", async () => {
        const main = f.mainPair(f.app);
        const err = await rejection(f.issuer.promote(target, UNKNOWN_STAGED_ID));
        expect(err.code).toBe("SALESFORCE_NOT_FOUND");
        expect(await f.issuer.readMainKey(target)).toBe(main.clientId);
      });

      it("refuses to promote a record that was already promoted, leaving the main pair alone", async () => {
        const s = await stage();
        await f.issuer.promote(target, s.id);
        const err = await rejection(f.issuer.promote(target, s.id));
        expect(err.context["uncertain"]).not.toBe(true);
        expect(await f.issuer.readMainKey(target)).toBe(s.clientId);
      });

      it("a staged set can be created again after the rotated record (a later rotation)", async () => {
        const first = await stage();
        await f.issuer.promote(target, first.id);
        const second = await stage();
        expect(second.state).toBe("active");
        expect(second.clientId).not.toBe(first.clientId);
        const listed = await f.issuer.listStaged(target);
        expect(listed.map((x) => [x.id, x.state])).toEqual([[second.id, "active"]]);
        expect(await f.issuer.readMainKey(target)).toBe(first.clientId);
      });
    });

    describe("pairs and identity", () => {
      it("reports a pair with a wrong secret as not ok, and its known key as alive (invalid_client), without echoing the secret", async () => {
        const main = f.mainPair(f.app);
        const wrong = SecretValue.of(CANARY);
        const result = await f.issuer.verifyPair(f.connection, main.clientId, wrong, 0);
        expect(result.ok).toBe(false);
        expect(typeof result.code).toBe("string");
        expectSecretFree(result, [CANARY, main.secret]);
        // A wrong secret proves nothing about the key: only an unknown key (invalid_client_id) is dead.
        const proof = await f.issuer.provePairDead(f.connection, main.clientId, wrong);
        expect(proof).toEqual({ dead: false, answer: "invalid_client" });
        expectSecretFree(proof, [CANARY, main.secret]);
      });

      it("proves a key that never existed dead with invalid_client_id", async () => {
        const proof = await f.issuer.provePairDead(
          f.connection,
          "3MVG-never-issued-key",
          SecretValue.of(CANARY),
        );
        expect(proof).toEqual(DEAD);
      });

      it("names the org the connection logs in to with an 18-character id, the same every time", async () => {
        const org = await f.issuer.orgId(f.connection);
        expect(org).toMatch(/^00D[A-Za-z0-9]{15}$/);
        expect(await f.issuer.orgId(f.connection)).toBe(org);
      });

      it("reports the main pair as alive", async () => {
        const main = f.mainPair(f.app);
        const secret = SecretValue.of(main.secret);
        expect(await f.issuer.provePairDead(f.connection, main.clientId, secret)).toMatchObject({
          dead: false,
        });
        const result = await f.issuer.verifyPair(f.connection, main.clientId, secret, VERIFY_TIMEOUT_MS);
        expect(result.ok).toBe(true);
      });

      it("names the admin app's consumer key as its own client id", async () => {
        expect(await f.issuer.ownClientId(f.connection)).toBe(f.adminClientId);
      });
    });
  });
}
