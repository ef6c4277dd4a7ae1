// The simulated org: users, External Client Apps, their consumers, primary and staged pairs.
// Plain JSON-able data so a state file can hold it; the operations below are the only writers.
import { RotatorError } from "../../core/errors.ts";
import { newConsumerKey, newConsumerSecret, newId15, to15 } from "./sim-ids.ts";
import type { RotateSemantics } from "./sim-settings.ts";

const STAGED_LIFETIME_MS = 30 * 24 * 60 * 60 * 1000;

export interface SimPair {
  key: string;
  secret: string;
  /** ms since epoch; the activation delay counts from here. */
  createdAt: number;
}

type StagedState = "active" | "rotated" | "expired";

export interface SimStaged {
  id15: string;
  pair: SimPair;
  state: StagedState;
  createdDate: number;
  expirationDate: number;
  createdBy: string;
  /** Overlap semantics: a rotated record holding the former primary, which stays valid until expiry or DELETE. */
  holdsFormerPair: boolean;
  /**
   * overlap-new-shown semantics: the former primary, which the record does not show (it shows the promoted pair)
   * but which stays valid as long as the record lives (until expiry or DELETE).
   */
  hiddenFormerPair?: SimPair;
}

export interface SimConsumer {
  id15: string;
  name: string;
  primary: SimPair;
  staged?: SimStaged;
}

export interface SimApp {
  id15: string;
  developerName: string;
  consumers: SimConsumer[];
  /** The client-credentials run-as user; absent means "no client credentials user enabled". */
  runAsUserId15?: string;
  /** The admin integration app is usable at once whatever the activation delay. */
  exemptFromActivationDelay: boolean;
}

export interface SimUser {
  id15: string;
  username: string;
  name: string;
  /** External Client App Developer + View Client Secret. */
  eccPerms: boolean;
}

export interface SimSession {
  token: string;
  userId15: string;
  appId15: string;
  clientKey: string;
  issuedAt: number;
  revoked: boolean;
}

export interface SimOrgState {
  format: "eca-rotator/salesforce-simulator-state@1";
  orgId15: string;
  serial: number;
  users: SimUser[];
  apps: SimApp[];
  sessions: SimSession[];
  adminAppId15: string;
  adminUserId15: string;
  integrationUserId15: string;
  /** Token requests per user in the trailing hour (ms timestamps). */
  logins: Record<string, number[]>;
  api: { windowStart: number; used: number };
  counters: { promotions: number; stagedPosts: number; tokenRequests: number; apiCalls: number };
}

export type PairRole = "primary" | "staged" | "rotated";

function nextId(state: SimOrgState, kind: Parameters<typeof newId15>[0]): string {
  state.serial += 1;
  return newId15(kind, state.serial);
}

function newPair(now: number): SimPair {
  return { key: newConsumerKey(), secret: newConsumerSecret(), createdAt: now };
}

export function newOrgState(now: number): SimOrgState {
  const state: SimOrgState = {
    format: "eca-rotator/salesforce-simulator-state@1",
    orgId15: "",
    serial: 0,
    users: [],
    apps: [],
    sessions: [],
    adminAppId15: "",
    adminUserId15: "",
    integrationUserId15: "",
    logins: {},
    api: { windowStart: now, used: 0 },
    counters: { promotions: 0, stagedPosts: 0, tokenRequests: 0, apiCalls: 0 },
  };
  state.orgId15 = nextId(state, "org");
  const adminUser: SimUser = {
    id15: nextId(state, "user"),
    username: "eca-rotator-admin@sim.example.com",
    name: "ECA Rotator Admin",
    eccPerms: true,
  };
  const integrationUser: SimUser = {
    id15: nextId(state, "user"),
    username: "integration@sim.example.com",
    name: "Integration User",
    eccPerms: false,
  };
  state.users.push(adminUser, integrationUser);
  state.adminUserId15 = adminUser.id15;
  state.integrationUserId15 = integrationUser.id15;
  const adminApp = addApp(state, "ECA_Rotator_Admin", now, { runAsUserId15: adminUser.id15 });
  adminApp.exemptFromActivationDelay = true;
  state.adminAppId15 = adminApp.id15;
  return state;
}

export interface AddAppOptions {
  consumers?: number;
  /** Run-as user id; `null` = no client-credentials user (token requests fail with invalid_grant). */
  runAsUserId15?: string | null;
}

export function addApp(
  state: SimOrgState,
  developerName: string,
  now: number,
  opts: AddAppOptions = {},
): SimApp {
  if (!/^[A-Za-z][A-Za-z0-9_]{0,79}$/.test(developerName)) {
    throw new RotatorError(
      "USAGE",
      "an app developer name starts with a letter and has letters, digits and _",
    );
  }
  if (state.apps.some((a) => a.developerName === developerName)) {
    throw new RotatorError("USAGE", `an app named ${developerName} already exists in the simulated org`);
  }
  const count = opts.consumers ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > 10) {
    throw new RotatorError("USAGE", "an app has between 1 and 10 consumers");
  }
  const app: SimApp = {
    id15: nextId(state, "app"),
    developerName,
    consumers: [],
    exemptFromActivationDelay: false,
  };
  const runAs = opts.runAsUserId15 === undefined ? state.integrationUserId15 : opts.runAsUserId15;
  if (runAs !== null) app.runAsUserId15 = runAs;
  const label = developerName.replace(/_/g, " ");
  for (let i = 0; i < count; i++) {
    app.consumers.push({
      id15: nextId(state, "consumer"),
      name: count === 1 ? label : `${label} ${i + 1}`,
      primary: newPair(now),
    });
  }
  state.apps.push(app);
  return app;
}

export function findApp(state: SimOrgState, id: string): SimApp | undefined {
  const id15 = to15(id);
  return id15 === undefined ? undefined : state.apps.find((a) => a.id15 === id15);
}

export function findConsumer(app: SimApp, id: string): SimConsumer | undefined {
  const id15 = to15(id);
  return id15 === undefined ? undefined : app.consumers.find((c) => c.id15 === id15);
}

export function findUser(state: SimOrgState, id15: string): SimUser | undefined {
  return state.users.find((u) => u.id15 === id15);
}

/** Lazy expiry (evaluated on every request): active sets past 30 days expire, rotated ones disappear. */
export function expireStaged(state: SimOrgState, now: number): boolean {
  let changed = false;
  for (const app of state.apps) {
    for (const c of app.consumers) {
      const s = c.staged;
      if (!s || now < s.expirationDate) continue;
      if (s.state === "active") {
        s.state = "expired";
        changed = true;
      } else if (s.state === "rotated") {
        delete c.staged;
        changed = true;
      }
    }
  }
  return changed;
}

/** Every pair of a consumer that can log in now (activation delay aside), with its role. */
export function livePairs(c: SimConsumer): Array<{ pair: SimPair; role: PairRole }> {
  const out: Array<{ pair: SimPair; role: PairRole }> = [{ pair: c.primary, role: "primary" }];
  const s = c.staged;
  if (s?.state === "active") out.push({ pair: s.pair, role: "staged" });
  if (s?.state === "rotated" && s.holdsFormerPair) out.push({ pair: s.pair, role: "rotated" });
  if (s?.state === "rotated" && s.hiddenFormerPair) out.push({ pair: s.hiddenFormerPair, role: "rotated" });
  return out;
}

export interface PairMatch {
  app: SimApp;
  consumer: SimConsumer;
  pair: SimPair;
  role: PairRole;
}

/** The live pair with this consumer key, if any; dead pairs are as unknown as never-issued ones. */
export function findLivePair(state: SimOrgState, key: string): PairMatch | undefined {
  for (const app of state.apps) {
    for (const consumer of app.consumers) {
      for (const { pair, role } of livePairs(consumer)) {
        if (pair.key === key) return { app, consumer, pair, role };
      }
    }
  }
  return undefined;
}

export function isPastActivationDelay(app: SimApp, pair: SimPair, delayMs: number, now: number): boolean {
  return app.exemptFromActivationDelay || now - pair.createdAt >= delayMs;
}

export type StageResult = { ok: true; staged: SimStaged } | { ok: false; reason: "active_exists" };

/** POST staged: a rotated or expired set is deleted first (revoking a former pair it holds). */
export function stageCredentials(
  state: SimOrgState,
  c: SimConsumer,
  createdBy: string,
  whenActive: "error" | "replace",
  now: number,
): StageResult {
  if (c.staged?.state === "active" && whenActive === "error") return { ok: false, reason: "active_exists" };
  const created = Math.floor(now / 1000) * 1000;
  const staged: SimStaged = {
    id15: nextId(state, "staged"),
    pair: newPair(now),
    state: "active",
    createdDate: created,
    expirationDate: created + STAGED_LIFETIME_MS,
    createdBy,
    holdsFormerPair: false,
  };
  c.staged = staged;
  state.counters.stagedPosts += 1;
  return { ok: true, staged };
}

/**
 * PATCH rotate on an active staged set. The record keeps its id unless `newId` (unknown on real orgs, section 8
 * question 4).
 * overlap: the former primary moves into the record (state rotated, valid 30 days from now or until DELETE).
 * immediate: the record keeps the promoted pair (as a published hands-on test saw), the former primary is dead at once.
 * overlap-new-shown: the record keeps showing the promoted pair, and the former primary stays valid with it
 * (30 days from now or until DELETE) although no answer shows it.
 */
export function promoteStaged(
  state: SimOrgState,
  c: SimConsumer,
  semantics: RotateSemantics,
  now: number,
  newId = false,
): SimStaged {
  const s = c.staged;
  if (s?.state !== "active") {
    throw new RotatorError("INTERNAL_INVARIANT", "promote needs an active staged set");
  }
  const former = c.primary;
  c.primary = s.pair;
  s.state = "rotated";
  if (semantics === "overlap") {
    s.pair = former;
    s.holdsFormerPair = true;
  }
  if (semantics === "overlap-new-shown") s.hiddenFormerPair = former;
  if (semantics !== "immediate") s.expirationDate = Math.floor(now / 1000) * 1000 + STAGED_LIFETIME_MS;
  if (newId) s.id15 = nextId(state, "staged");
  state.counters.promotions += 1;
  return s;
}
