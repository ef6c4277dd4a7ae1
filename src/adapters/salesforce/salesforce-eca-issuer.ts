// The CredentialIssuer port on the Salesforce client: one object for every configured connection. It maps the
// port's calls onto the ECA credentials API and adds no retries of its own (the client retries idempotent calls
// and never retries POST staged / PATCH rotate). Client errors pass through untouched so that
// context.uncertain reaches the engine. Ids leave here in the 18-character form, so the engine can compare a
// journaled id with a listed one using ===.
import { RotatorError } from "../../core/errors.ts";
import type {
  CredentialIssuer,
  DeathProof,
  IssuerTarget,
  IssuerTargetRef,
  ResolvedTarget,
  StagedCredential,
  VerifyResult,
} from "../../core/rotation/rotation-ports.ts";
import type { SecretValue } from "../../core/secret-value.ts";
import type { SalesforceClient } from "./salesforce-client.ts";
import { isSalesforceId, sameSalesforceId, to18 } from "./salesforce-client.ts";
import type { StagedCredential as ClientStaged } from "./salesforce-eca-types.ts";

/** The client calls the issuer needs (a SalesforceClient fits). */
export type IssuerClient = Pick<
  SalesforceClient,
  | "resolveAppId"
  | "listConsumers"
  | "readConsumer"
  | "listStaged"
  | "createStaged"
  | "deleteStaged"
  | "rotateStaged"
  | "verifyPair"
  | "provePairDead"
  | "userInfo"
>;

export interface SalesforceIssuerConnection {
  readonly client: IssuerClient;
  /** The consumer key of the admin app this connection logs in with (from the connection's KV entry). */
  readonly adminClientId: string;
}

export class SalesforceEcaIssuer implements CredentialIssuer {
  readonly #connections: ReadonlyMap<string, SalesforceIssuerConnection>;
  /** An org's id never changes under a connection: asked once per process. */
  readonly #orgIds = new Map<string, string>();

  /** Keyed by connection name (salesforce.connections.<name>). */
  constructor(connections: ReadonlyMap<string, SalesforceIssuerConnection>) {
    this.#connections = new Map(connections);
  }

  /** The consumer list shows each consumer's main key: it comes back with the target, so inspect need not read it. */
  async resolveTarget(ref: IssuerTargetRef): Promise<ResolvedTarget> {
    const { client } = this.#connection(ref.connection);
    const wanted = ref.consumerId;
    if (wanted !== undefined && !isSalesforceId(wanted)) throw notAnId("eca_consumer_id");
    const appId = await this.#resolveAppId(client, ref);
    const consumers = await client.listConsumers(appId);
    if (wanted !== undefined) {
      const found = consumers.find((c) => sameSalesforceId(c.id, wanted));
      if (!found) {
        throw new RotatorError(
          "SALESFORCE_NOT_FOUND",
          `resolve target: the External Client App has no consumer with the id in eca_consumer_id (${consumers.length} consumers)`,
          { context: { step: "resolve target", appId, consumers: consumers.length } },
        );
      }
      return {
        connection: ref.connection,
        appId,
        consumerId: to18(found.id),
        mainKey: found.key || undefined,
      };
    }
    const only = consumers[0];
    if (consumers.length === 0 || !only) {
      throw new RotatorError(
        "SALESFORCE_NOT_FOUND",
        "resolve target: the External Client App has no OAuth consumer",
        { context: { step: "resolve target", appId, consumers: 0 } },
      );
    }
    if (consumers.length > 1) {
      throw new RotatorError(
        "POLICY_INVALID",
        `resolve target: the app has ${consumers.length} consumers: set eca_consumer_id`,
        { context: { step: "resolve target", appId, consumers: consumers.length } },
      );
    }
    return { connection: ref.connection, appId, consumerId: to18(only.id), mainKey: only.key || undefined };
  }

  async readMainKey(target: IssuerTarget): Promise<string> {
    const { client } = this.#connection(target.connection);
    const main = await client.readConsumer(target.appId, target.consumerId, "key");
    // The client refuses an answer without a key for part=key; this keeps the type honest.
    if (!main.key) throw missingKey("read main key", target);
    return main.key;
  }

  async listStaged(target: IssuerTarget): Promise<StagedCredential[]> {
    const { client } = this.#connection(target.connection);
    const staged = await client.listStaged(target.appId, target.consumerId);
    return staged.map((s) => toPortStaged(s, target, "list staged"));
  }

  async createStaged(target: IssuerTarget): Promise<StagedCredential> {
    const { client } = this.#connection(target.connection);
    const issued = await client.createStaged(target.appId, target.consumerId);
    return { id: normalId(issued.id), clientId: issued.key, secret: issued.secret, state: issued.state };
  }

  async deleteStaged(target: IssuerTarget, stagedId: string): Promise<boolean> {
    const { client } = this.#connection(target.connection);
    return (await client.deleteStaged(target.appId, target.consumerId, stagedId)).deleted;
  }

  async promote(target: IssuerTarget, stagedId: string): Promise<void> {
    const { client } = this.#connection(target.connection);
    await client.rotateStaged(target.appId, target.consumerId, stagedId);
  }

  async verifyPair(
    connection: string,
    clientId: string,
    secret: SecretValue,
    timeoutMs: number,
  ): Promise<VerifyResult> {
    const { client } = this.#connection(connection);
    const check = await client.verifyPair(clientId, secret, { timeoutMs });
    if (check.ok) return { ok: true, elapsedMs: check.elapsedMs, attempts: check.attempts };
    // The token refusal (invalid_client_id …) says more than SALESFORCE_AUTH_FAILED; codes are secret-free.
    const reason = check.reason !== undefined && check.reason !== "other" ? check.reason : undefined;
    return { ok: false, elapsedMs: check.elapsedMs, attempts: check.attempts, code: reason ?? check.code };
  }

  async provePairDead(connection: string, clientId: string, secret: SecretValue): Promise<DeathProof> {
    const { client } = this.#connection(connection);
    const proof = await client.provePairDead(clientId, secret);
    return proof.dead ? { dead: true, answer: proof.reason } : { dead: false, answer: proof.answer };
  }

  async ownClientId(connection: string): Promise<string> {
    return this.#connection(connection).adminClientId;
  }

  async orgId(connection: string): Promise<string> {
    const cached = this.#orgIds.get(connection);
    if (cached !== undefined) return cached;
    const { client } = this.#connection(connection);
    const info = await client.userInfo();
    const org = info.organizationId;
    if (org === undefined || !isSalesforceId(org)) {
      throw new RotatorError(
        "SALESFORCE_UNEXPECTED_RESPONSE",
        "userinfo: Salesforce answered without the organization id",
        { context: { step: "userinfo", connection: connection.slice(0, 80) } },
      );
    }
    const id = to18(org);
    this.#orgIds.set(connection, id);
    return id;
  }

  #connection(name: string): SalesforceIssuerConnection {
    const found = this.#connections.get(name);
    if (found) return found;
    const known = [...this.#connections.keys()].join(", ") || "none";
    throw new RotatorError(
      "CONFIG_INVALID",
      `no Salesforce connection named "${name.slice(0, 80)}" is configured (sf_connection; configured: ${known})`,
      { context: { connection: name.slice(0, 80) } },
    );
  }

  async #resolveAppId(client: IssuerClient, ref: IssuerTargetRef): Promise<string> {
    if (ref.appId !== undefined) {
      if (!isSalesforceId(ref.appId)) throw notAnId("eca_app_id");
      return to18(ref.appId);
    }
    if (ref.appName !== undefined && ref.appName !== "") return to18(await client.resolveAppId(ref.appName));
    throw new RotatorError("POLICY_INVALID", "resolve target: set eca_app_id or eca_app_name", {
      context: { step: "resolve target" },
    });
  }
}

function toPortStaged(s: ClientStaged, target: IssuerTarget, step: string): StagedCredential {
  if (!s.key) throw missingKey(step, target);
  return { id: normalId(s.id), clientId: s.key, secret: s.secret, state: s.state };
}

/** Salesforce may answer with either id form; the port speaks 18 characters. */
function normalId(id: string): string {
  return isSalesforceId(id) ? to18(id) : id;
}

function notAnId(key: string): RotatorError {
  return new RotatorError("POLICY_INVALID", `${key} is not a Salesforce id (15 or 18 letters and digits)`, {
    context: { step: "resolve target", key },
  });
}

function missingKey(step: string, target: IssuerTarget): RotatorError {
  return new RotatorError(
    "SALESFORCE_UNEXPECTED_RESPONSE",
    `${step}: Salesforce answered without a consumer key`,
    { context: { step, appId: target.appId, consumerId: target.consumerId } },
  );
}
