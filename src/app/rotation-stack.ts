// Composition of the rotation engine from a Config and a connected Vault: the KV credential and state stores,
// one Salesforce client per configured connection behind the issuer, the audit sink (audit.file, else JSON
// lines on stderr), a notifier (one human line on stderr; chat comes with the daemon), the fingerprint key,
// and this process's lease owner name. The CLI's rotate, rollback and run --once use it; the daemon will too.

import { randomBytes, randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { JsonlFileAuditSink } from "../adapters/audit/jsonl-file-audit-sink.ts";
import type { SalesforceClient } from "../adapters/salesforce/salesforce-client.ts";
import {
  SalesforceEcaIssuer,
  type SalesforceIssuerConnection,
} from "../adapters/salesforce/salesforce-eca-issuer.ts";
import { SFMC_TOKEN_TIMEOUT_MS, verifySfmcSecret } from "../adapters/sfmc/sfmc-token-check.ts";
import { VaultCredentialStore } from "../adapters/vault/vault-credential-store.ts";
import { VaultStateStore } from "../adapters/vault/vault-state-store.ts";
import type { Config } from "../config/config-types.ts";
import { destinationsOf } from "../config/load-config.ts";
import { type Clock, systemClock } from "../core/clock.ts";
import { classifyError } from "../core/errors.ts";
import { PROVIDERS } from "../core/providers/provider-registry.ts";
import type { RotationEngineDeps } from "../core/rotation/engine-deps.ts";
import { type ResolveOptions, type ResolveOutcome, resolveParked } from "../core/rotation/resolve.ts";
import { createRotationEngine, type RotationEngine } from "../core/rotation/rotation-engine.ts";
import type {
  AuditSink,
  CredentialIssuer,
  CredentialStore,
  Notifier,
  RotationStateStore,
} from "../core/rotation/rotation-ports.ts";
import { loadAuditChainKey } from "../daemon/secret-refs.ts";
import type { VaultStack } from "./container.ts";
import { loadFingerprintKey, makeFingerprint } from "./fingerprint-key.ts";
import { connectSalesforce } from "./salesforce-connection.ts";
import { type LineWriter, StderrAuditSink, StderrNotifier } from "./stderr-sinks.ts";

export interface RotationStack {
  readonly engine: RotationEngine;
  /** `eca-rotator resolve PATH`: ends a parked rotation with KV naming Salesforce's main pair (resolve.ts). */
  resolve(path: string, opts: ResolveOptions): Promise<ResolveOutcome>;
  readonly issuer: CredentialIssuer;
  readonly store: CredentialStore;
  readonly state: RotationStateStore;
  /** The audit sink the engine writes to (for events outside the engine, e.g. recorded manual rotations). */
  readonly audit: AuditSink;
  /** This process's lease owner name (host:pid:random). */
  readonly owner: string;
  /** The latest Sforce-Limit-Info usage per configured connection (undefined before its first answer). */
  apiUsage(connection: string): { used: number; max: number } | undefined;
  /** Closes the Salesforce clients and waits for queued audit lines; the Vault stack is the caller's. */
  close(): Promise<void>;
}

export interface RotationStackOptions {
  /** Where human lines and stderr audit lines go (the CLI passes its stderr). */
  readonly stderr: LineWriter;
  /** The process environment (the audit chain key may come from it); the CLI passes its own. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** --dry-run: create nothing anywhere (not even the fingerprint key). */
  readonly readOnly?: boolean;
  readonly clock?: Clock;
  /** Told about audit or notification failures (they never change an outcome). */
  readonly onSinkFailure?: RotationEngineDeps["onSinkFailure"];
  /** The daemon's sinks (fan-out audit, chat); default: audit.file or stderr, and one stderr line per notice. */
  readonly audit?: AuditSink | undefined;
  readonly notifier?: Notifier | undefined;
  /** The daemon is stopping: rotations pause at the next step boundary. */
  readonly shouldPause?: (() => boolean) | undefined;
  /** New rotation ids; default randomUUID. */
  readonly ids?: (() => string) | undefined;
}

export async function buildRotationStack(
  cfg: Config,
  vault: VaultStack,
  opts: RotationStackOptions,
): Promise<RotationStack> {
  const clock = opts.clock ?? systemClock;
  const key = await loadFingerprintKey({
    keyFile: cfg.audit.fingerprintKeyFile,
    kv: vault.kv,
    statePrefix: cfg.vault.statePrefix,
    readOnly: opts.readOnly === true,
  });
  // Only for the stack's own file sink; the daemon and the CLI pass their fan-out, which loads it likewise.
  const chainKey =
    opts.audit === undefined && cfg.audit.file !== undefined
      ? await loadAuditChainKey(cfg.audit, { env: opts.env ?? {}, kv: vault.kv })
      : undefined;

  const clients: SalesforceClient[] = [];
  const byName = new Map<string, SalesforceClient>();
  const connections = new Map<string, SalesforceIssuerConnection>();
  try {
    for (const conn of cfg.salesforce.connections) {
      const { client, clientId } = await connectSalesforce(conn, vault.kv, clock);
      clients.push(client);
      byName.set(conn.name, client);
      connections.set(conn.name, { client, adminClientId: clientId });
    }
  } catch (err) {
    await Promise.all(clients.map((c) => c.close()));
    throw err;
  }

  const fileSink =
    opts.audit !== undefined || cfg.audit.file === undefined
      ? undefined
      : new JsonlFileAuditSink(cfg.audit.file, { chainKey });
  const ports: {
    issuer: CredentialIssuer;
    store: CredentialStore;
    state: RotationStateStore;
    audit: AuditSink;
    notifier: Notifier;
  } = {
    issuer: new SalesforceEcaIssuer(connections),
    store: new VaultCredentialStore(vault.kv, { prefixes: cfg.vault.prefixes }),
    state: new VaultStateStore(vault.kv),
    audit: opts.audit ?? fileSink ?? new StderrAuditSink(opts.stderr),
    notifier: opts.notifier ?? new StderrNotifier(opts.stderr),
  };

  const owner = `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
  const r = cfg.rotation;
  const deps: RotationEngineDeps = {
    providers: PROVIDERS,
    ...ports,
    clock,
    ids: opts.ids ?? randomUUID,
    owner,
    fingerprint: makeFingerprint(key),
    // provider=generated draws its secrets here (never logged; the journal holds them until published).
    randomBytes: (size) => randomBytes(size),
    // provider=sfmc asks the tenant's v2/token whether a secret works.
    sfmcTokenCheck: (url, clientId, secret) => verifySfmcSecret(url, clientId, secret, SFMC_TOKEN_TIMEOUT_MS),
    settings: {
      leaseTtlMs: r.leaseTtlMs,
      soakMs: r.soakMs,
      verifyTimeoutMs: r.verifyTimeoutMs,
      maxAttempts: r.maxAttempts,
      retryBudgetMs: r.retryBudgetMs,
      // The first backoff after a failed attempt is one scan: the daemon looks again then anyway.
      retryBaseMs: r.scanIntervalMs,
      retireAfterMs: r.retireAfterMs,
      destinations: destinationsOf(cfg),
    },
    onSinkFailure:
      opts.onSinkFailure ??
      ((sink, err) =>
        opts.stderr(`warning: the ${sink} sink failed (${classifyError(err)}); the rotation goes on`)),
    shouldPause: opts.shouldPause,
  };
  const engine = createRotationEngine(deps);

  return {
    engine,
    resolve: (path, o) => resolveParked(deps, path, o),
    issuer: ports.issuer,
    store: ports.store,
    state: ports.state,
    audit: ports.audit,
    owner,
    apiUsage: (connection) => byName.get(connection)?.apiUsage,
    async close() {
      await fileSink?.flush();
      await Promise.all(clients.map((c) => c.close()));
    },
  };
}
