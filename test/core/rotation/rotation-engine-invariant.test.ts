// The rotation's invariant, checked at every port call while faults play out: the pair KV's current version names
// logs in at Salesforce, except inside the revoke-first window of an emergency (from the PATCH that promotes to the
// publish right after it). For each mode and semantics, a fault is injected at each Salesforce call of a rotation
// in turn (a transient 503 twice, or a refusal that retrying cannot fix); the rotation is then driven as the daemon
// would (resume, or an operator's rotate=now when it parked). Before every port call and at the end, the invariant
// must hold, nothing may be promoted twice, and a rotation that completes must be clean.
import { describe, expect, it } from "vitest";
import { RotatorError } from "../../../src/core/errors.ts";
import type { RotationOutcome } from "../../../src/core/rotation/rotation-outcome.ts";
import {
  expectRotatedCleanly,
  FLAG_START,
  Interceptor,
  makeEngine,
  makeWorld,
  PATH,
  SETTINGS,
  type World,
} from "./rotation-world.ts";

type Mode = "standard" | "emergency";

function insideEmergencyWindow(w: World): boolean {
  const j = w.state.journal(PATH);
  return j?.mode === "emergency" && (j.step === "promoting" || j.step === "promoted");
}

function invariantHolds(w: World): string | undefined {
  if (insideEmergencyWindow(w)) return undefined;
  const kv = w.store.current(PATH).data;
  const live = w.issuer.validPairs().find((p) => p.clientId === kv["client_id"]);
  if (live === undefined || live.secret !== kv["api_key"]) {
    return `KV names ${kv["client_id"]}, which does not log in (journal at ${w.state.journal(PATH)?.step ?? "none"})`;
  }
  return undefined;
}

/** Runs the rotation to an end the way the daemon and an operator would, checking the invariant at every call. */
async function driveWithFault(
  mode: Mode,
  semantics: "overlap" | "immediate",
  faultAt: number,
  fault: () => RotatorError,
  times: number,
): Promise<{ w: World; outcomes: RotationOutcome[]; violations: string[]; hit: string | undefined }> {
  const w = makeWorld({
    semantics,
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
        w.issuer.failNext(method, fault(), { times });
      }
    },
  });
  const engine = makeEngine(w, { interceptor });
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
async function issuerCallCount(mode: Mode, semantics: "overlap" | "immediate"): Promise<number> {
  const w = makeWorld({ semantics, metadata: { soak: "0s" } });
  const log = new Interceptor();
  expect(await makeEngine(w, { interceptor: log }).start(PATH, { ...FLAG_START, mode })).toMatchObject({
    kind: "completed",
  });
  return log.log.filter((n) => n.startsWith("issuer.")).length;
}

const FAULTS = {
  "a transient 503, twice": {
    make: () => new RotatorError("SALESFORCE_UNAVAILABLE", "HTTP 503 (fault)", { retryable: true }),
    times: 2,
  },
  "a refusal retrying cannot fix": {
    make: () => new RotatorError("SALESFORCE_NOT_ENABLED", "HTTP 403 (fault)"),
    times: 1,
  },
} as const;

describe("the invariant under faults at every Salesforce call", () => {
  for (const mode of ["standard", "emergency"] as const) {
    for (const semantics of ["overlap", "immediate"] as const) {
      for (const [faultName, f] of Object.entries(FAULTS)) {
        it(`${mode}, ${semantics}, ${faultName}: KV's pair logs in at every call, nothing promoted twice`, async () => {
          const calls = await issuerCallCount(mode, semantics);
          expect(calls).toBeGreaterThan(8);
          for (let k = 0; k < calls; k++) {
            const { w, outcomes, violations, hit } = await driveWithFault(
              mode,
              semantics,
              k,
              f.make,
              f.times,
            );
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
