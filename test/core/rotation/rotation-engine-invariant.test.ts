// The rotation's invariant, checked at every port call while faults play out: the pair KV's current version names
// logs in at Salesforce, except inside the revoke-first window of an emergency (from the PATCH that promotes to the
// publish right after it). For each mode and each reading of Salesforce's `rotated` record, a fault is injected at
// each Salesforce call of a rotation in turn (an answer lost after the call took effect, under both answers to a
// POST while a set is active; a transient 503 twice; a rate limit three times; a refusal that retrying cannot
// fix); the rotation is then driven as the daemon would (resume, or an operator's rotate=now when it parked).
// Before every port call and at the end, the invariant must hold, nothing may be promoted twice, and a rotation
// that completes must be clean.
import { describe, expect, it } from "vitest";
import { RotatorError } from "../../../src/core/errors.ts";
import type { RotationOutcome } from "../../../src/core/rotation/rotation-outcome.ts";
import { ROTATE_SEMANTICS } from "../../../src/simulator/salesforce/sim-settings.ts";
import {
  expectRotatedCleanly,
  FLAG_START,
  Interceptor,
  makeEngine,
  makeWorld,
  PATH,
  passBackoff,
  SETTINGS,
  type World,
} from "./rotation-world.ts";

type Mode = "standard" | "emergency";
type Semantics = (typeof ROTATE_SEMANTICS)[number];

function insideEmergencyWindow(w: World): boolean {
  const j = w.state.journal(PATH);
  return j?.mode === "emergency" && (j.step === "promoting" || j.step === "promoted");
}

function invariantHolds(w: World): string | undefined {
  return insideEmergencyWindow(w) ? undefined : kvBroken(w);
}

/** Why the pair KV names does not log in, or undefined when it does. */
function kvBroken(w: World): string | undefined {
  const kv = kvData(w);
  if (kv === undefined)
    return `KV's current version is deleted (journal at ${w.state.journal(PATH)?.step ?? "none"})`;
  const live = w.issuer.validPairs().find((p) => p.clientId === kv["client_id"]);
  if (live === undefined || live.secret !== kv["api_key"]) {
    return `KV names ${kv["client_id"]}, which does not log in (journal at ${w.state.journal(PATH)?.step ?? "none"})`;
  }
  return undefined;
}

/** KV's current data, or undefined while the current version is deleted. */
function kvData(w: World): Record<string, string> | undefined {
  try {
    return w.store.current(PATH).data;
  } catch {
    return undefined;
  }
}

/** KV's current version number, deleted or not. */
function kvVersion(w: World): number {
  return w.store.history(PATH).length;
}

/** Runs the rotation to an end the way the daemon and an operator would, checking the invariant at every call. */
async function driveWithFault(
  mode: Mode,
  semantics: Semantics,
  faultAt: number,
  f: Fault,
  settings: Partial<typeof SETTINGS> = {},
): Promise<{ w: World; outcomes: RotationOutcome[]; violations: string[]; hit: string | undefined }> {
  const w = makeWorld({
    semantics,
    stagedPostWhenActive: f.stagedPostWhenActive ?? "error",
    metadata: { soak: "0s", rotate: mode === "emergency" ? "emergency" : "now" },
  });
  const violations: string[] = [];
  let issuerCalls = 0;
  let hit: string | undefined;
  const interceptor = new Interceptor({
    before: (name) => {
      const v = invariantHolds(w);
      if (v !== undefined) violations.push(`before ${name}: ${v}`);
      if (!name.startsWith("issuer.")) return;
      if (issuerCalls++ === faultAt) {
        hit = name;
        const method = name.slice("issuer.".length) as Parameters<World["issuer"]["failNext"]>[0];
        w.issuer.failNext(method, f.make(), { times: f.times, commit: f.commit ?? false });
      }
    },
  });
  const engine = makeEngine(w, { interceptor, settings });
  const start = { ...FLAG_START, mode };
  const outcomes: RotationOutcome[] = [];
  for (let i = 0; i < 30; i++) {
    const journal = w.state.journal(PATH);
    let out: RotationOutcome;
    if (journal === undefined) {
      if (w.store.current(PATH).metadata["rotate"] === undefined) break;
      out = await engine.start(PATH, start);
    } else if (journal.step === "failed") {
      // Parked: an operator looks, and asks again once the cause is gone (the fault is used up by then).
      w.store.patchByHand(PATH, { rotate: "now" });
      out = await engine.start(PATH, FLAG_START);
    } else {
      out = await engine.resume(PATH);
    }
    outcomes.push(out);
    const v = invariantHolds(w);
    if (v !== undefined) violations.push(`after ${out.kind}: ${v}`);
    if (out.kind === "completed") break;
    if (out.kind === "waiting") w.clock.advance(Math.max(1, out.until.getTime() - w.clock.now().getTime()));
    if (out.kind === "skipped" && out.code === "ROTATION_LEASE_HELD") w.clock.advance(SETTINGS.leaseTtlMs);
    if (out.kind === "rolled_back") {
      // Rolled back (nothing promoted): the old pair is KV's and Salesforce's again. Done, as far as the
      // invariant goes; an operator would start afresh.
      break;
    }
  }
  return { w, outcomes, violations, hit };
}

/** How many Salesforce calls a clean rotation makes, per mode and semantics (the fault positions). */
async function issuerCallCount(
  mode: Mode,
  semantics: Semantics,
  settings: Partial<typeof SETTINGS> = {},
): Promise<number> {
  const w = makeWorld({ semantics, metadata: { soak: "0s" } });
  const log = new Interceptor();
  const engine = makeEngine(w, { interceptor: log, settings });
  let out = await engine.start(PATH, { ...FLAG_START, mode });
  // A retire_after wait (or a soak's looks at its readers): move past it and finish, counting every call.
  while (out.kind === "waiting") {
    w.clock.advance(out.until.getTime() - w.clock.now().getTime());
    out = await engine.resume(PATH);
  }
  expect(out).toMatchObject({ kind: "completed" });
  return log.log.filter((n) => n.startsWith("issuer.")).length;
}

interface Fault {
  readonly make: () => RotatorError;
  readonly times: number;
  /** The call takes effect at Salesforce before its answer is lost. */
  readonly commit?: boolean;
  readonly stagedPostWhenActive?: "error" | "replace";
}

const lostAnswer = () =>
  new RotatorError("SALESFORCE_UNAVAILABLE", "connection reset after the request was sent (fault)", {
    retryable: true,
    context: { uncertain: true },
  });

const FAULTS: Record<string, Fault> = {
  "an answer lost after the call took effect (a POST while a set is active answers 409)": {
    make: lostAnswer,
    times: 1,
    commit: true,
  },
  "an answer lost after the call took effect (a POST while a set is active replaces it)": {
    make: lostAnswer,
    times: 1,
    commit: true,
    stagedPostWhenActive: "replace",
  },
  "a transient 503, twice": {
    make: () => new RotatorError("SALESFORCE_UNAVAILABLE", "HTTP 503 (fault)", { retryable: true }),
    times: 2,
  },
  "a rate limit (REQUEST_LIMIT_EXCEEDED, or the login rate), three times": {
    make: () =>
      new RotatorError("SALESFORCE_RATE_LIMITED", "HTTP 403 REQUEST_LIMIT_EXCEEDED (fault)", {
        retryable: true,
      }),
    times: 3,
  },
  "a refusal retrying cannot fix": {
    make: () => new RotatorError("SALESFORCE_NOT_ENABLED", "HTTP 403 (fault)"),
    times: 1,
  },
};

describe("the invariant under faults at every Salesforce call", () => {
  for (const mode of ["standard", "emergency"] as const) {
    for (const semantics of ROTATE_SEMANTICS) {
      for (const [faultName, f] of Object.entries(FAULTS)) {
        it(`${mode}, ${semantics}, ${faultName}: KV's pair logs in at every call, nothing promoted twice`, async () => {
          const calls = await issuerCallCount(mode, semantics);
          expect(calls).toBeGreaterThan(8);
          for (let k = 0; k < calls; k++) {
            const { w, outcomes, violations, hit } = await driveWithFault(mode, semantics, k, f);
            const context = `fault at Salesforce call #${k} (${hit ?? "?"})`;
            expect(violations, context).toEqual([]);
            expect(w.issuer.promotions, context).toBeLessThanOrEqual(1);
            const last = outcomes.at(-1);
            if (last?.kind === "completed") expectRotatedCleanly(w);
          }
        });
      }
    }
  }
});

// With retire_after, the old key is asked once right after promotion whether it died with it (where it did, the
// retirement runs at once). A fault at that probe, or at any other call, must keep KV's pair working throughout.
describe("the invariant under faults at every Salesforce call, with a retire_after wait", () => {
  const settings = { retireAfterMs: 60 * 60_000 };
  for (const semantics of ROTATE_SEMANTICS) {
    for (const [faultName, f] of Object.entries(FAULTS)) {
      it(`standard, ${semantics}, ${faultName}: KV's pair logs in at every call`, async () => {
        const calls = await issuerCallCount("standard", semantics, settings);
        expect(calls).toBeGreaterThan(8);
        for (let k = 0; k < calls; k++) {
          const { w, outcomes, violations, hit } = await driveWithFault(
            "standard",
            semantics,
            k,
            f,
            settings,
          );
          const context = `fault at Salesforce call #${k} (${hit ?? "?"})`;
          expect(violations, context).toEqual([]);
          expect(w.issuer.promotions, context).toBeLessThanOrEqual(1);
          if (outcomes.at(-1)?.kind === "completed") expectRotatedCleanly(w);
        }
      });
    }
  }
});

// soak_until=readers with no reader feed: the soak looks again every minute and promotes at soak_max. The extra
// engine calls (and the promotion decided from the journal alone) must keep KV's pair working under every fault.
describe("the invariant under faults at every Salesforce call, with soak_until=readers", () => {
  const settings = { soakUntil: "readers" as const, soakMaxMs: 3 * 60_000 };
  for (const semantics of ROTATE_SEMANTICS) {
    for (const [faultName, f] of Object.entries(FAULTS)) {
      it(`standard, ${semantics}, ${faultName}: KV's pair logs in at every call`, async () => {
        const calls = await issuerCallCount("standard", semantics, settings);
        expect(calls).toBeGreaterThan(8);
        let waitedForReaders = 0;
        for (let k = 0; k < calls; k++) {
          const { w, outcomes, violations, hit } = await driveWithFault(
            "standard",
            semantics,
            k,
            f,
            settings,
          );
          const context = `fault at Salesforce call #${k} (${hit ?? "?"})`;
          expect(violations, context).toEqual([]);
          expect(w.issuer.promotions, context).toBeLessThanOrEqual(1);
          if (outcomes.at(-1)?.kind === "completed") expectRotatedCleanly(w);
          if (outcomes.some((o) => o.kind === "waiting" && o.waiting === "readers")) waitedForReaders++;
        }
        // The soak did wait for its readers (a fault before publication may end a run earlier).
        expect(waitedForReaders).toBeGreaterThan(0);
      });
    }
  }
});

// A person (or a sync job) at work while the rotation runs, at every point of it in turn. KV writes land just
// before one of the rotator's KV calls, so each ordering that the rotator can tell apart is played; a write that
// lands between the rotator's last KV read and its PATCH or retire (a single Salesforce call apart) is the one
// window no client of KV can close. Checked before every port call and at the end: the pair KV names logs in
// unless the person's own write broke it (then from the rotator's next KV write on), nothing is promoted twice,
// and the outcome and state say what happened.
interface Interference {
  /** The port calls before which this person may act. */
  readonly at: (call: string) => boolean;
  /** Acts; returns false when there was nothing to act on here. */
  readonly act: (w: World) => boolean;
}

function writeOldPairBack(w: World): boolean {
  const cur = w.store.current(PATH).data;
  if (cur["client_id"] === w.original.clientId && cur["api_key"] === w.original.secret) return false;
  w.store.put(PATH, {
    ...cur,
    client_id: w.original.clientId,
    api_key: w.original.secret,
    previous_client_id: "",
    previous_key: "",
  });
  return true;
}

const KV_CALL = (call: string) => call === "store.read" || call === "store.writeFields";

const INTERFERENCES: Record<string, Interference> = {
  "a sync job writes the old pair back to KV": { at: KV_CALL, act: writeOldPairBack },
  "someone edits api_key in KV": {
    at: KV_CALL,
    act: (w) => {
      const cur = w.store.current(PATH).data;
      w.store.put(PATH, { ...cur, api_key: "test-secret-canary-typed-by-hand" });
      return true;
    },
  },
  "someone deletes KV's current version (kv delete)": {
    at: KV_CALL,
    act: (w) => {
      w.store.deleteCurrentVersion(PATH);
      return true;
    },
  },
  "the staged set is deleted in Setup": {
    at: (call) => call.startsWith("issuer."),
    act: (w) => {
      if (w.issuer.stagedRecord(w.target) === undefined) return false;
      w.issuer.personDeletesStaged(w.target);
      return true;
    },
  },
  "an operator sets the flag again (emergency during a standard rotation, now during an emergency)": {
    at: (call) => call === "store.read",
    act: (w) => {
      const flag = w.store.metadata(PATH)["rotate"];
      const journal = w.state.journal(PATH);
      if (journal === undefined) return false;
      const wanted = journal.mode === "emergency" ? "now" : "emergency";
      if (flag === wanted) return false;
      w.store.patchByHand(PATH, { rotate: wanted, rotate_reason: "asked again by an operator" });
      return true;
    },
  },
};

interface Interfered {
  w: World;
  outcomes: RotationOutcome[];
  violations: string[];
  acted: string | undefined;
  /** The person's own write left KV naming a pair that does not log in. */
  personBrokeKv: boolean;
  interceptor: Interceptor;
}

/** Runs a rotation to its end as the daemon would, with the person acting once, before the k-th eligible call. */
async function driveWithPerson(
  mode: Mode,
  semantics: Semantics,
  person: Interference,
  k: number,
): Promise<Interfered> {
  const w = makeWorld({
    semantics,
    metadata: { soak: "0s", rotate: mode === "emergency" ? "emergency" : "now" },
  });
  const violations: string[] = [];
  let eligible = 0;
  let acted: string | undefined;
  let personBrokeKv = false;
  // While KV's current version is the person's harmful write, what it names is the person's doing.
  let personVersion: number | undefined;
  const excused = () => personVersion !== undefined && kvVersion(w) === personVersion;
  const interceptor = new Interceptor({
    before: (name) => {
      const versionBefore = kvVersion(w);
      const deletedBefore = kvData(w) === undefined;
      const brokenBefore = kvBroken(w) !== undefined;
      if (acted === undefined && person.at(name) && eligible++ === k && person.act(w)) {
        acted = name;
        const wroteKv = kvVersion(w) !== versionBefore || (kvData(w) === undefined) !== deletedBefore;
        const kv = kvData(w);
        const oldPairBack = kv?.["client_id"] === w.original.clientId && kv["api_key"] === w.original.secret;
        const step = w.state.journal(PATH)?.step;
        const retiring = step === "promoting" || step === "promoted" || step === "published";
        if (mode === "emergency" && oldPairBack && w.issuer.promotions > 0 && retiring) {
          // The compromised pair written back before the retire step: it dies whatever KV says (the revoke-first
          // window, reopened by the person) until the retire step points KV at the new pair, which the end
          // checks. Written back after that step, it is the person's doing, as after the rotation.
          personVersion = kvVersion(w);
        } else if (kvBroken(w) !== undefined && (wroteKv || !brokenBefore)) {
          personBrokeKv = true;
          personVersion = kvVersion(w);
        }
      }
      const v = excused() ? undefined : invariantHolds(w);
      if (v !== undefined) violations.push(`before ${name}: ${v}`);
    },
  });
  const engine = makeEngine(w, { interceptor });
  const outcomes: RotationOutcome[] = [];
  for (let i = 0; i < 40; i++) {
    const journal = w.state.journal(PATH);
    const flag = w.store.metadata(PATH)["rotate"];
    let out: RotationOutcome;
    if (journal === undefined) {
      if (flag === undefined) break;
      out = await engine.start(PATH, {
        ...FLAG_START,
        mode: flag === "emergency" ? "emergency" : "standard",
      });
    } else if (journal.step === "failed") {
      break; // parked: an operator reads what it says and decides
    } else {
      out = await engine.resume(PATH);
    }
    outcomes.push(out);
    const v = excused() ? undefined : invariantHolds(w);
    if (v !== undefined) violations.push(`after ${out.kind}: ${v}`);
    if (out.kind === "failed" && !out.willRetry) break;
    if (out.kind === "waiting") w.clock.advance(Math.max(1, out.until.getTime() - w.clock.now().getTime()));
    if (out.kind === "failed" && out.willRetry) passBackoff(w);
    if (out.kind === "skipped" && out.code === "ROTATION_LEASE_HELD") w.clock.advance(SETTINGS.leaseTtlMs);
    if (out.kind === "rolled_back" || out.kind === "skipped") break;
  }
  return { w, outcomes, violations, acted, personBrokeKv, interceptor };
}

/** After more than one rotation: KV names Salesforce's main pair, the only pair that logs in; nothing pending. */
function expectSettled(w: World): void {
  const kv = w.store.current(PATH);
  const main = w.issuer.mainPair(w.target);
  expect({ clientId: kv.data["client_id"], secret: kv.data["api_key"] }).toEqual(main);
  expect(w.issuer.validPairs().map((p) => p.clientId)).toEqual([main.clientId]);
  expect(kv.metadata).toMatchObject({ rotation_state: "idle" });
  expect(kv.metadata["rotate"]).toBeUndefined();
  expect(w.state.journal(PATH)).toBeUndefined();
}

/** How many calls a clean rotation makes before which this person could act. */
async function eligibleCalls(mode: Mode, semantics: Semantics, person: Interference): Promise<number> {
  const w = makeWorld({ semantics, metadata: { soak: "0s" } });
  const log = new Interceptor();
  await makeEngine(w, { interceptor: log }).start(PATH, { ...FLAG_START, mode });
  return log.log.filter(person.at).length;
}

describe("the invariant with a person at work at every point of a rotation", () => {
  for (const mode of ["standard", "emergency"] as const) {
    for (const semantics of ROTATE_SEMANTICS) {
      for (const [who, person] of Object.entries(INTERFERENCES)) {
        it(`${mode}, ${semantics}, ${who}: KV's pair logs in, nothing promoted twice, the end is said`, async () => {
          const n = await eligibleCalls(mode, semantics, person);
          expect(n).toBeGreaterThan(1);
          let actedSomewhere = 0;
          for (let k = 0; k < n; k++) {
            const r = await driveWithPerson(mode, semantics, person, k);
            if (r.acted === undefined) continue;
            actedSomewhere++;
            const context = `${who} before call #${k} (${r.acted}); outcomes ${r.outcomes.map((o) => o.kind).join(", ")}`;
            expect(r.violations, context).toEqual([]);
            // One promotion per rotation: the one under way, and the emergency an operator's flag asks for.
            const rotations = r.outcomes.filter((o) => o.kind === "completed").length;
            expect(r.w.issuer.promotions, context).toBeLessThanOrEqual(Math.max(1, rotations));
            const last = r.outcomes.at(-1);
            expect(last, context).toBeDefined();
            if (last?.kind === "completed" && !r.personBrokeKv) {
              if (r.w.issuer.promotions === 1) expectRotatedCleanly(r.w);
              else expectSettled(r.w);
            }
            if (last?.kind === "failed" || last?.kind === "rolled_back") {
              // Stopped: the message says why, and so does the state an operator sees.
              expect(last.message, context).not.toBe("");
              expect(r.w.store.metadata(PATH)["rotation_state"], context).toBe("failed");
            }
            if (!r.personBrokeKv) expect(invariantHolds(r.w), context).toBeUndefined();
          }
          expect(actedSomewhere).toBeGreaterThan(0);
        });
      }
    }
  }
});
