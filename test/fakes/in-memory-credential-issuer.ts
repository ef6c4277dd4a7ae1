// CredentialIssuer for unit tests: Salesforce's staged-credentials semantics (as the simulator models them)
// in memory, on the test's clock.
// - One main pair per consumer, at most one staged record (active | rotated | expired).
// - POST staged: a rotated/expired record is deleted first (revoking a former pair it holds); an active one is
//   SALESFORCE_STAGED_CONFLICT (or replaced, when `stagedPostWhenActive` is "replace").
// - PATCH rotate: overlap → the former main moves into the record (state rotated) and lives until DELETE;
//   immediate → the record keeps the promoted pair and the former main dies at once; overlap-new-shown → the
//   record keeps showing the promoted pair while the former main, shown nowhere, lives until DELETE.
// - A new pair can log in only `propagationDelayMs` after it was created; verifyPair waits for it by moving
//   the clock (time passes while a real adapter polls), up to its timeout, through `passTime` (a world whose
//   timers run on the same clock lets them run meanwhile, as they would while a real poll waits).
// - Faults: failNext(method, error, { commit }) makes the next call throw; with commit the call takes effect
//   first (Salesforce did it, the answer was lost), which is what `context.uncertain` is for.
import { randomUUID } from "node:crypto";
import { RotatorError } from "../../src/core/errors.ts";
import type {
  CredentialIssuer,
  DeathProof,
  IssuerTarget,
  IssuerTargetRef,
  ResolvedTarget,
  StagedCredential,
  VerifyResult,
} from "../../src/core/rotation/rotation-ports.ts";
import { SecretValue } from "../../src/core/secret-value.ts";
import type { FixedClock } from "../../src/core/time.ts";
import type { RotateSemantics } from "../../src/simulator/salesforce/sim-settings.ts";

export type { RotateSemantics };

interface FakePair {
  clientId: string;
  secret: string;
  createdAt: number;
}

interface FakeStaged {
  id: string;
  pair: FakePair;
  state: "active" | "rotated" | "expired";
  /** Overlap semantics: a rotated record holding the former main pair, valid until DELETE. */
  holdsFormer: boolean;
  /** overlap-new-shown semantics: the former main pair, valid until DELETE although the record shows the new one. */
  hiddenFormer?: FakePair;
}

interface FakeConsumer {
  appId: string;
  appName: string;
  consumerId: string;
  main: FakePair;
  staged: FakeStaged | undefined;
}

export type IssuerMethod = keyof CredentialIssuer;

interface Fault {
  /** undefined: this call goes through (a fault queued `after` some calls). */
  error: Error | undefined;
  commit: boolean;
}

export interface IssuerOptions {
  semantics?: RotateSemantics;
  stagedPostWhenActive?: "error" | "replace";
  propagationDelayMs?: number;
  /** false: Salesforce does not return staged secrets (the org setting for REST access to secrets is off). */
  secretsReadable?: boolean;
}

export interface LivePair {
  readonly clientId: string;
  readonly secret: string;
  readonly role: "main" | "staged" | "rotated";
  readonly appId: string;
  readonly consumerId: string;
}

export class InMemoryCredentialIssuer implements CredentialIssuer {
  readonly #clock: FixedClock;
  readonly #consumers: FakeConsumer[] = [];
  readonly #own = new Map<string, string>();
  readonly #orgs = new Map<string, string>();
  // App and consumer ids count up from the same start in every instance; a fresh org per instance keeps two
  // tests sharing one Vault state prefix from seeing each other's consumers (owner records are per org).
  readonly #defaultOrg = `00DWt${randomUUID().replace(/-/g, "").slice(0, 13)}`;
  readonly #faults = new Map<IssuerMethod, Fault[]>();
  #serial = 0;
  semantics: RotateSemantics;
  stagedPostWhenActive: "error" | "replace";
  propagationDelayMs: number;
  secretsReadable: boolean;
  /**
   * A Salesforce that keeps knowing retired consumer keys: a login with one answers invalid_client (wrong secret)
   * rather than invalid_client_id. Only invalid_client_id proves a key dead, so retirement must not pass.
   */
  retiredKeysStayKnown = false;
  /**
   * A Salesforce whose PATCH rotate leaves the `rotated` record under a new id (whether the record keeps its id is
   * not documented): a DELETE by the promoted staged id then finds nothing.
   */
  rotatedRecordGetsNewId = false;
  readonly #everIssued = new Set<string>();
  readonly #verifyAnswers: (string | undefined)[] = [];
  /** Successful PATCH rotate calls (including ones whose answer was lost). */
  promotions = 0;
  stagedPosts = 0;
  /** Every call, by method name, in order. */
  readonly calls: IssuerMethod[] = [];
  /** How verifyPair lets time pass while it waits; moves the clock by default. */
  passTime: (ms: number) => void | Promise<void>;

  constructor(clock: FixedClock, opts: IssuerOptions = {}) {
    this.#clock = clock;
    this.passTime = (ms) => clock.advance(ms);
    this.semantics = opts.semantics ?? "overlap";
    this.stagedPostWhenActive = opts.stagedPostWhenActive ?? "error";
    this.propagationDelayMs = opts.propagationDelayMs ?? 0;
    this.secretsReadable = opts.secretsReadable ?? true;
  }

  /**
   * A consumer with a main pair that has been live for a long time. A new app name makes a new app; a name
   * used before adds a consumer to that app (an app with several consumers).
   */
  addConsumer(appName: string, pair?: { clientId: string; secret: string }): IssuerTarget & FakePair {
    const sibling = this.#consumers.find((c) => c.appName === appName);
    const appId = sibling?.appId ?? `0xIWt${String(++this.#serial).padStart(10, "0")}AAA`;
    const consumer: FakeConsumer = {
      appId,
      appName,
      consumerId: `888Wt${String(++this.#serial).padStart(10, "0")}AAA`,
      main: { ...(pair ?? this.#newPair()), createdAt: 0 },
      staged: undefined,
    };
    this.#consumers.push(consumer);
    this.#everIssued.add(consumer.main.clientId);
    return { connection: "", appId, consumerId: consumer.consumerId, ...consumer.main };
  }

  /** The consumer key the rotator logs in with on `connection`. */
  setOwnClientId(connection: string, clientId: string): void {
    this.#own.set(connection, clientId);
  }

  /** `after`: let that many calls through first (verifyPair's first call is the proof of possession). */
  failNext(
    method: IssuerMethod,
    error: Error,
    opts: { commit?: boolean; times?: number; after?: number } = {},
  ): void {
    const list = this.#faults.get(method) ?? [];
    for (let i = 0; i < (opts.after ?? 0); i++) list.push({ error: undefined, commit: false });
    for (let i = 0; i < (opts.times ?? 1); i++) list.push({ error, commit: opts.commit ?? false });
    this.#faults.set(method, list);
  }

  /** Drops the faults still queued for `method` (the outage is over). */
  clearFaults(method: IssuerMethod): void {
    this.#faults.delete(method);
  }

  /**
   * The next verifyPair calls answer {ok: false, code} at once, as the adapter does when the token endpoint
   * says `login rate exceeded` (code login_rate_exceeded) or stays unavailable; `after` lets calls through first.
   */
  answerVerifyNext(code: string, opts: { times?: number; after?: number } = {}): void {
    for (let i = 0; i < (opts.after ?? 0); i++) this.#verifyAnswers.push(undefined);
    for (let i = 0; i < (opts.times ?? 1); i++) this.#verifyAnswers.push(code);
  }

  /** A person staging a set by hand in Setup (not through the rotator). */
  personStages(target: Pick<IssuerTarget, "appId" | "consumerId">): { id: string; clientId: string } {
    const c = this.#find(target);
    const staged: FakeStaged = {
      id: this.#stagedId(),
      pair: this.#newPair(),
      state: "active",
      holdsFormer: false,
    };
    c.staged = staged;
    return { id: staged.id, clientId: staged.pair.clientId };
  }

  /** A person deleting the staged record by hand. */
  personDeletesStaged(target: Pick<IssuerTarget, "appId" | "consumerId">): void {
    this.#find(target).staged = undefined;
  }

  mainPair(target: Pick<IssuerTarget, "appId" | "consumerId">): { clientId: string; secret: string } {
    const { clientId, secret } = this.#find(target).main;
    return { clientId, secret };
  }

  stagedRecord(
    target: Pick<IssuerTarget, "appId" | "consumerId">,
  ): { id: string; clientId: string; state: string } | undefined {
    const s = this.#find(target).staged;
    return s === undefined ? undefined : { id: s.id, clientId: s.pair.clientId, state: s.state };
  }

  /** Every pair that can log in now (propagation aside), with its role. */
  validPairs(): LivePair[] {
    const out: LivePair[] = [];
    for (const c of this.#consumers) {
      const ids = { appId: c.appId, consumerId: c.consumerId };
      out.push({ clientId: c.main.clientId, secret: c.main.secret, role: "main", ...ids });
      const s = c.staged;
      if (s?.state === "active")
        out.push({ clientId: s.pair.clientId, secret: s.pair.secret, role: "staged", ...ids });
      for (const p of lingering(s))
        out.push({ clientId: p.clientId, secret: p.secret, role: "rotated", ...ids });
    }
    return out;
  }

  /** Plain data of everything, for before/after comparisons. */
  snapshot(): unknown {
    return structuredClone({
      consumers: this.#consumers,
      promotions: this.promotions,
      stagedPosts: this.stagedPosts,
    });
  }

  /** Like Salesforce's consumer list, the answer shows the consumer's main key. */
  async resolveTarget(ref: IssuerTargetRef): Promise<ResolvedTarget> {
    this.#enter("resolveTarget");
    // Salesforce accepts the 15-character form of an id as well as the 18-character one.
    const sameId = (a: string, b: string | undefined) => b !== undefined && a.slice(0, 15) === b.slice(0, 15);
    const apps = this.#consumers.filter((c) =>
      ref.appId !== undefined ? sameId(c.appId, ref.appId) : c.appName === ref.appName,
    );
    if (apps.length === 0) throw new RotatorError("SALESFORCE_NOT_FOUND", "no such External Client App");
    const picked =
      ref.consumerId === undefined ? apps : apps.filter((c) => sameId(c.consumerId, ref.consumerId));
    if (picked.length !== 1 || picked[0] === undefined) {
      throw new RotatorError(
        picked.length === 0 ? "SALESFORCE_NOT_FOUND" : "POLICY_INVALID",
        picked.length === 0 ? "no such consumer" : "the app has several consumers; set eca_consumer_id",
      );
    }
    return this.#exit("resolveTarget", () => ({
      connection: ref.connection,
      appId: picked[0]?.appId ?? "",
      consumerId: picked[0]?.consumerId ?? "",
      mainKey: picked[0]?.main.clientId,
    }));
  }

  async readMainKey(target: IssuerTarget): Promise<string> {
    this.#enter("readMainKey");
    return this.#exit("readMainKey", () => this.#find(target).main.clientId);
  }

  async listStaged(target: IssuerTarget): Promise<StagedCredential[]> {
    this.#enter("listStaged");
    return this.#exit("listStaged", () => {
      const s = this.#find(target).staged;
      return s === undefined ? [] : [this.#view(s)];
    });
  }

  async createStaged(target: IssuerTarget): Promise<StagedCredential> {
    this.#enter("createStaged");
    return this.#exit("createStaged", () => {
      const c = this.#find(target);
      if (c.staged?.state === "active" && this.stagedPostWhenActive === "error") {
        throw new RotatorError("SALESFORCE_STAGED_CONFLICT", "an active staged set exists; delete it first");
      }
      const staged: FakeStaged = {
        id: this.#stagedId(),
        pair: this.#newPair(),
        state: "active",
        holdsFormer: false,
      };
      c.staged = staged; // a rotated record (and the former pair it holds) goes with it
      this.stagedPosts += 1;
      return this.#view(staged);
    });
  }

  async deleteStaged(target: IssuerTarget, stagedId: string): Promise<boolean> {
    this.#enter("deleteStaged");
    return this.#exit("deleteStaged", () => {
      const c = this.#find(target);
      if (c.staged?.id !== stagedId) return false;
      c.staged = undefined;
      return true;
    });
  }

  async promote(target: IssuerTarget, stagedId: string): Promise<void> {
    this.#enter("promote");
    return this.#exit("promote", () => {
      const c = this.#find(target);
      const s = c.staged;
      if (s === undefined || s.id !== stagedId)
        throw new RotatorError("SALESFORCE_NOT_FOUND", "no such staged set");
      if (s.state !== "active") {
        throw new RotatorError("SALESFORCE_UNEXPECTED_RESPONSE", "only an active staged set can be rotated");
      }
      const former = c.main;
      c.main = s.pair;
      s.state = "rotated";
      if (this.semantics === "overlap") {
        s.pair = former;
        s.holdsFormer = true;
      }
      if (this.semantics === "overlap-new-shown") s.hiddenFormer = former;
      if (this.rotatedRecordGetsNewId) s.id = this.#stagedId();
      this.promotions += 1;
    });
  }

  async verifyPair(
    _connection: string,
    clientId: string,
    secret: SecretValue,
    timeoutMs: number,
  ): Promise<VerifyResult> {
    this.#enter("verifyPair");
    const answer = this.#verifyAnswers.shift();
    if (answer !== undefined) return { ok: false, elapsedMs: 0, attempts: 1, code: answer };
    const result = this.#exit("verifyPair", (): VerifyResult => {
      const pair = this.#live(clientId, secret.reveal());
      if (pair === undefined) {
        // As Salesforce answers: a known key with a wrong secret is invalid_client, an unknown key invalid_client_id.
        const code = this.#knownKey(clientId) ? "invalid_client" : "invalid_client_id";
        return { ok: false, elapsedMs: timeoutMs, attempts: 3, code };
      }
      const wait = Math.max(0, pair.createdAt + this.propagationDelayMs - this.#clock.now().getTime());
      if (wait > timeoutMs) {
        return { ok: false, elapsedMs: timeoutMs, attempts: 3, code: "invalid_client_id" };
      }
      return { ok: true, elapsedMs: wait, attempts: wait === 0 ? 1 : 2 };
    });
    if (result.elapsedMs > 0) await this.passTime(result.elapsedMs);
    return result;
  }

  async provePairDead(_connection: string, clientId: string, secret: SecretValue): Promise<DeathProof> {
    this.#enter("provePairDead");
    return this.#exit("provePairDead", (): DeathProof => {
      // Like Salesforce's token endpoint: an unknown key is invalid_client_id, a known key with another secret
      // invalid_client, the right pair a token.
      const known = this.#knownKey(clientId) || (this.retiredKeysStayKnown && this.#everIssued.has(clientId));
      if (!known) return { dead: true, answer: "invalid_client_id" };
      return { dead: false, answer: this.#live(clientId, secret.reveal()) ? "token" : "invalid_client" };
    });
  }

  async ownClientId(connection: string): Promise<string> {
    this.#enter("ownClientId");
    return this.#exit("ownClientId", () => this.#own.get(connection) ?? "3MVG-rotator-admin-key");
  }

  async orgId(connection: string): Promise<string> {
    this.#enter("orgId");
    return this.#exit("orgId", () => this.#orgs.get(connection) ?? this.#defaultOrg);
  }

  /** Two connections reaching the same org, or different ones. */
  setOrgId(connection: string, orgId: string): void {
    this.#orgs.set(connection, orgId);
  }

  #enter(method: IssuerMethod): void {
    this.calls.push(method);
  }

  /** Runs the call, honouring a queued fault (before the effect, or after it with commit). */
  #exit<T>(method: IssuerMethod, effect: () => T): T {
    const fault = this.#faults.get(method)?.shift();
    if (fault?.error === undefined) return effect();
    if (fault.commit) effect();
    throw fault.error;
  }

  /** Whether any live pair (main, active staged, or a former main a rotated record keeps alive) has this key. */
  #knownKey(clientId: string): boolean {
    return this.#consumers.some((c) => livePairsOf(c).some((p) => p.clientId === clientId));
  }

  #live(clientId: string, secret: string): FakePair | undefined {
    for (const c of this.#consumers) {
      const candidates = livePairsOf(c);
      const hit = candidates.find((p) => p.clientId === clientId && p.secret === secret);
      if (hit !== undefined) return hit;
    }
    return undefined;
  }

  #view(s: FakeStaged): StagedCredential {
    return {
      id: s.id,
      clientId: s.pair.clientId,
      secret: this.secretsReadable ? SecretValue.of(s.pair.secret) : undefined,
      state: s.state,
    };
  }

  #find(target: Pick<IssuerTarget, "appId" | "consumerId">): FakeConsumer {
    const c = this.#consumers.find((x) => x.appId === target.appId && x.consumerId === target.consumerId);
    if (c === undefined) throw new RotatorError("SALESFORCE_NOT_FOUND", "no such consumer");
    return c;
  }

  #newPair(): FakePair {
    const n = ++this.#serial;
    this.#everIssued.add(`3MVG-key-${n}`);
    return {
      clientId: `3MVG-key-${n}`,
      secret: `test-secret-canary-sf-${n}`,
      createdAt: this.#clock.now().getTime(),
    };
  }

  #stagedId(): string {
    return `0ugWt${String(++this.#serial).padStart(10, "0")}`;
  }
}

/** The former main pair a rotated record keeps alive: the one it shows (overlap) or a hidden one. */
function lingering(s: FakeStaged | undefined): FakePair[] {
  if (s?.state !== "rotated") return [];
  return [...(s.holdsFormer ? [s.pair] : []), ...(s.hiddenFormer === undefined ? [] : [s.hiddenFormer])];
}

/** Every pair of the consumer that logs in (propagation aside): main, an active staged set, a lingering one. */
function livePairsOf(c: FakeConsumer): FakePair[] {
  return [c.main, ...(c.staged?.state === "active" ? [c.staged.pair] : []), ...lingering(c.staged)];
}
