// The Salesforce simulator: a real HTTP server on loopback that behaves like an org's OAuth endpoints and the
// External Client App credentials API. Used by every test, the demo, and by users
// for dry runs (`eca-rotator simulate salesforce`). Plain node:http; no logging unless `onRequest` is given.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { RotatorError } from "../../core/errors.ts";
import { systemClock } from "../../core/time.ts";
import { handleAdmin } from "./sim-admin-routes.ts";
import type { SimContext } from "./sim-context.ts";
import { maintenancePage, notFound, restError } from "./sim-errors.ts";
import { type FaultSpec, FaultTable } from "./sim-faults.ts";
import type { SimReply, SimRequest } from "./sim-http.ts";
import { to18 } from "./sim-ids.ts";
import {
  type CreatePackageOptions,
  McPackages,
  type McPackageView,
  type McSecretState,
} from "./sim-mc-packages.ts";
import { handleMcToken } from "./sim-mc-token.ts";
import { handleIdentity, handleIntrospect, handleRevoke, handleUserinfo } from "./sim-oauth-routes.ts";
import { handleData } from "./sim-rest-routes.ts";
import { apiUsage, pruneSessions } from "./sim-sessions.ts";
import { patchSettings, type SimulatorOptions, settingsFrom } from "./sim-settings.ts";
import {
  addApp,
  expireStaged,
  findApp,
  findConsumer,
  isPastActivationDelay,
  livePairs,
  newOrgState,
  type PairRole,
  type SimApp,
} from "./sim-state.ts";
import { loadStateFile, saveStateFile } from "./sim-state-file.ts";
import { handleToken } from "./sim-token-endpoint.ts";
import { closeServer, readBody, send } from "./sim-wire.ts";

export type { FaultSpec } from "./sim-faults.ts";
export type { SimulatorOptions } from "./sim-settings.ts";

export interface SimulatedApp {
  /** 18-char `0xI…` id. */
  appId: string;
  appId15: string;
  developerName: string;
  /** 18-char `888…` id of the first consumer. */
  consumerId: string;
  /** The first consumer's pair when the app was created (it changes with every rotation). */
  consumerKey: string;
  consumerSecret: string;
  /** 18-char ids of every consumer, first one first. */
  consumerIds: string[];
}

export interface CreateAppOptions {
  consumers?: number;
  /** Run client_credentials as the admin user (with the ECA permissions) instead of a plain integration user. */
  runAsAdmin?: boolean;
  /** false: no run-as user, token requests fail with `no client credentials user enabled`. */
  clientCredentialsUser?: boolean;
}

/** Marketing Cloud installed packages; Setup's stage/activate are test hooks (there is no public API). */
export interface MarketingCloudSim {
  createPackage(name: string, opts?: CreatePackageOptions): McPackageView;
  /** Generate a staged secret as Setup does (shown once); it authenticates 5 minutes later. */
  stageSecret(clientId: string): string;
  /** Activate the staged secret; the previously active one stops working at once. */
  activateStaged(clientId: string): void;
  /** Secrets that authenticate now (expiry and the 5-minute staging delay applied). */
  validSecrets(clientId: string): Array<{ secret: string; state: McSecretState }>;
}

export interface SalesforceSimulator {
  /** The Marketing Cloud side: `POST /v2/token` on the same base URL. */
  readonly mc: MarketingCloudSim;
  /** http://127.0.0.1:PORT, also the instance_url of every token. */
  readonly url: string;
  /** The admin integration app eca-rotator logs in with (client_credentials, run-as user with the perms). */
  readonly adminApp: SimulatedApp;
  /** The admin run-as user, e.g. for a jwt-bearer `sub`. */
  readonly adminUser: { username: string; userId: string };
  /** An ECA to be rotated (the first consumer is returned). */
  createApp(developerName: string, opts?: CreateAppOptions): SimulatedApp;
  findApp(developerNameOrId: string): SimulatedApp | undefined;
  /** Which pairs can log in right now (expiry and activation delay applied). */
  validPairs(appId: string, consumerId: string): Array<{ key: string; role: PairRole }>;
  /** The consumer's current primary pair (what `?part=keyandsecret` returns). */
  primaryPair(appId: string, consumerId: string): { key: string; secret: string };
  counters(): { promotions: number; stagedPosts: number; tokenRequests: number; apiCalls: number };
  /** Flip switches at run time (host, port, stateFile and clock are fixed at start). */
  setOptions(patch: Partial<SimulatorOptions>): void;
  addFault(f: FaultSpec): void;
  clearFaults(): void;
  close(): Promise<void>;
}

export async function startSalesforceSimulator(opts: SimulatorOptions = {}): Promise<SalesforceSimulator> {
  const settings = settingsFrom(opts);
  const clock = opts.clock ?? systemClock;
  const stateFile = opts.stateFile;
  const state = (stateFile && loadStateFile(stateFile)) || newOrgState(clock.now().getTime());
  const faults = new FaultTable();
  let url = "";
  const ctx: SimContext = { state, settings, clock, baseUrl: () => url };
  const save = () => {
    if (stateFile) saveStateFile(stateFile, state);
  };

  const appOf = (id: string): SimApp => {
    const app = findApp(state, id);
    if (!app) throw new RotatorError("USAGE", "no such app in the simulated org");
    return app;
  };
  const consumerOf = (appId: string, consumerId: string) => {
    const c = findConsumer(appOf(appId), consumerId);
    if (!c) throw new RotatorError("USAGE", "no such consumer in the simulated org");
    return c;
  };

  const mcPackages = new McPackages();
  const mcNow = () => clock.now().getTime();
  const sim: SalesforceSimulator = {
    mc: {
      createPackage: (name, o) => mcPackages.create(name, mcNow(), o),
      stageSecret: (clientId) => mcPackages.stage(clientId, mcNow()),
      activateStaged: (clientId) => mcPackages.activate(clientId, mcNow()),
      validSecrets: (clientId) => mcPackages.validSecrets(clientId, mcNow()),
    },
    get url() {
      return url;
    },
    adminApp: describeApp(appOf(state.adminAppId15)),
    adminUser: (() => {
      const u = state.users.find((x) => x.id15 === state.adminUserId15);
      return { username: u?.username ?? "", userId: to18(state.adminUserId15) };
    })(),
    createApp(developerName, o = {}) {
      const now = clock.now().getTime();
      const runAs =
        o.clientCredentialsUser === false
          ? null
          : o.runAsAdmin
            ? state.adminUserId15
            : state.integrationUserId15;
      const app = addApp(state, developerName, now, {
        runAsUserId15: runAs,
        ...(o.consumers === undefined ? {} : { consumers: o.consumers }),
      });
      save();
      return describeApp(app);
    },
    findApp(nameOrId) {
      const app = state.apps.find((a) => a.developerName === nameOrId) ?? findApp(state, nameOrId);
      return app && describeApp(app);
    },
    validPairs(appId, consumerId) {
      const now = clock.now().getTime();
      expireStaged(state, now);
      const app = appOf(appId);
      return livePairs(consumerOf(appId, consumerId))
        .filter(({ pair }) => isPastActivationDelay(app, pair, settings.activationDelayMs, now))
        .map(({ pair, role }) => ({ key: pair.key, role }));
    },
    primaryPair(appId, consumerId) {
      const { key, secret } = consumerOf(appId, consumerId).primary;
      return { key, secret };
    },
    counters: () => ({ ...state.counters }),
    setOptions(patch) {
      const { host: _h, port: _p, stateFile: _s, clock: _c, onRequest: _o, ...switches } = patch;
      patchSettings(settings, switches);
    },
    addFault: (f) => faults.add(f),
    clearFaults: () => faults.clear(),
    close: () => closeServer(server),
  };

  const route = (req: SimRequest): SimReply => {
    const p = req.path;
    if (p.startsWith("/services/data")) return handleData(ctx, req);
    if (p === "/services/oauth2/token") return req.method === "POST" ? handleToken(ctx, req) : notFound();
    if (p === "/v2/token") return req.method === "POST" ? handleMcToken(ctx, mcPackages, req) : notFound();
    if (p === "/services/oauth2/userinfo") return handleUserinfo(ctx, req);
    if (p === "/services/oauth2/revoke") return handleRevoke(ctx, req);
    if (p === "/services/oauth2/introspect")
      return req.method === "POST" ? handleIntrospect(ctx, req) : notFound();
    const id = /^\/id\/([A-Za-z0-9]{15,18})\/([A-Za-z0-9]{15,18})$/.exec(p);
    if (id?.[1] && id[2]) return handleIdentity(ctx, req, id[1], id[2]);
    if (p === "/__sim" || p.startsWith("/__sim/")) {
      return settings.adminApi ? handleAdmin(sim, req) : notFound();
    }
    return notFound();
  };

  const server = createServer((req, res) => {
    void serve(req, res).catch(() => {
      if (!res.headersSent)
        send(res, restError(500, "UNKNOWN_EXCEPTION", "An unexpected error occurred."), "");
      else res.destroy();
    });
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const body = await readBody(req);
    const target = new URL(req.url ?? "/", "http://simulator.invalid");
    const method = (req.method ?? "GET").toUpperCase();
    const isAdmin = target.pathname.startsWith("/__sim");
    const fault = isAdmin
      ? { latencyMs: 0, fail5xx: false, drop: false }
      : faults.decide(method, target.pathname + target.search);
    if (fault.latencyMs > 0) await sleep(fault.latencyMs);
    let reply: SimReply;
    if (body === undefined) {
      reply = restError(413, "REQUEST_TOO_LARGE", "The request body is too large.");
    } else if (fault.fail5xx) {
      reply = maintenancePage();
    } else {
      const now = clock.now().getTime();
      expireStaged(state, now);
      pruneSessions(state, settings.sessionTimeoutMs, now);
      reply = route({
        method,
        path: target.pathname,
        query: target.searchParams,
        headers: req.headers,
        body,
      });
      save();
    }
    opts.onRequest?.({
      method,
      path: target.pathname,
      status: fault.drop ? 0 : reply.status,
      ms: Math.round(performance.now() - started),
    });
    if (fault.drop) {
      // The work is done (and saved); the client never hears back.
      req.socket.destroy();
      return;
    }
    send(res, reply, `api-usage=${apiUsage(state, clock.now().getTime()).used}/${settings.dailyApiLimit}`);
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  url = `http://${addr.family === "IPv6" ? `[${addr.address}]` : addr.address}:${addr.port}`;
  save();
  return sim;
}

function describeApp(app: SimApp): SimulatedApp {
  const first = app.consumers[0];
  if (!first) throw new RotatorError("INTERNAL_INVARIANT", "an app without consumers");
  return {
    appId: to18(app.id15),
    appId15: app.id15,
    developerName: app.developerName,
    consumerId: to18(first.id15),
    consumerKey: first.primary.key,
    consumerSecret: first.primary.secret,
    consumerIds: app.consumers.map((c) => to18(c.id15)),
  };
}
