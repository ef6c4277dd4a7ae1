// Builds the Salesforce client of one configured connection. The admin app's own client id and secret live in
// KV at the connection's credentials_path (never in the config file), read with the rotator's Vault token.

import { SalesforceClient } from "../adapters/salesforce/salesforce-client.ts";
import type { KvV2 } from "../adapters/vault/kv-v2.ts";
import type { SalesforceConnectionConfig } from "../config/config-types.ts";
import type { Clock } from "../core/clock.ts";
import { RotatorError } from "../core/errors.ts";
import { SecretValue } from "../core/secret-value.ts";

export interface SalesforceConnection {
  readonly client: SalesforceClient;
  /** The admin app's consumer key: the rotator must never rotate it (POLICY_SELF_ROTATION). */
  readonly clientId: string;
}

export async function connectSalesforce(
  conn: SalesforceConnectionConfig,
  kv: KvV2,
  clock?: Clock,
): Promise<SalesforceConnection> {
  const stored = await kv.readData(conn.credentialsPath);
  const data = stored?.data ?? undefined;
  if (!stored || stored.deleted || !data) {
    throw new RotatorError(
      "CONFIG_INVALID",
      `salesforce.connections.${conn.name}: no KV entry at ${conn.credentialsPath} (it must hold client_id and client_secret)`,
    );
  }
  const clientId = data["client_id"];
  const secret = data["client_secret"];
  if (typeof clientId !== "string" || clientId === "") {
    throw new RotatorError(
      "CONFIG_INVALID",
      `salesforce.connections.${conn.name}: the KV entry at ${conn.credentialsPath} has no client_id`,
    );
  }
  if (conn.auth === "client_credentials" && (typeof secret !== "string" || secret === "")) {
    throw new RotatorError(
      "CONFIG_INVALID",
      `salesforce.connections.${conn.name}: the KV entry at ${conn.credentialsPath} has no client_secret`,
    );
  }
  const client = new SalesforceClient({
    connection: conn,
    clientId,
    clientSecret: typeof secret === "string" && secret !== "" ? SecretValue.of(secret) : undefined,
    ...(clock ? { clock } : {}),
  });
  return { client, clientId };
}
