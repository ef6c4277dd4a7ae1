// Salesforce unavailable or rate-limited in the middle of a rotation, end to end: the real daemon (and the real
// `run --once`), the run's OpenBao and the simulator's fault switches. While the fault lasts, KV and the simulator
// are polled: the pair KV names must log in at every poll. Each case ends with one completed rotation, and the
// state, audit and chat say what happened: a backoff per failed attempt, never a rollback or a parked journal.
import { describe, expect, it } from "vitest";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { type LogRecord, ServeProcess } from "../support/serve-process.ts";
import { freePort } from "../support/vault-backend.ts";
import { expectCompletedAudit, expectRotatedClean } from "./e2e-invariants.ts";
import { type Credential, E2eWorld } from "./e2e-kit.ts";

type SimEvent = { method: string; path: string; status: number };

/** A client_credentials login with the pair, as a consumer would make it. */
async function logsIn(sim: SalesforceSimulator, key: unknown, secret: unknown): Promise<boolean> {
  if (typeof key !== "string" || typeof secret !== "string") return false;
  const res = await fetch(`${sim.url}/services/oauth2/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: key, client_secret: secret }),
  });
  await res.arrayBuffer();
  return res.status === 200;
}

interface Observed {
  polls: number;
  /** last_rotation_error values seen while the rotation ran. */
  notes: Set<string>;
  /** The rotate flag as seen at each poll while the metadata said the rotation was backing off. */
  flags: Set<string | undefined>;
  steps: Set<string>;
}

/** Polls KV, the journal and the simulator until `done`; every poll KV's pair must log in. */
async function watch(
  w: E2eWorld,
  cred: Credential,
  done: () => boolean,
  timeoutMs: number,
): Promise<Observed> {
  const seen: Observed = { polls: 0, notes: new Set(), flags: new Set(), steps: new Set() };
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline)
      throw new Error(`not done in ${timeoutMs}ms: ${JSON.stringify([...seen.steps])}`);
    const kv = await w.entry(cred.path);
    expect(await logsIn(w.sim, kv?.data["client_id"], kv?.data["api_key"]), `poll ${seen.polls}`).toBe(true);
    const journal = await w.journal(cred.path);
    if (journal !== undefined) {
      seen.steps.add(String(journal.data["step"]));
      const note = kv?.meta["last_rotation_error"];
      if (note !== undefined) {
        seen.notes.add(note);
        seen.flags.add(kv?.meta["rotate"]);
      }
    }
    seen.polls += 1;
    await new Promise((r) => setTimeout(r, 150));
  }
  return seen;
}

const failedAttempt = (cred: Credential, code: string) => (r: LogRecord) =>
  r.msg === "rotation did not complete" && r["path"] === cred.path && r["code"] === code;

interface Case {
  readonly name: string;
  /** Sets the fault up before the daemon starts. */
  readonly arm: (sim: SalesforceSimulator) => void;
  /** Made per run; called with every answered request so far (to start or end the fault). */
  readonly onEvent?: () => (sim: SalesforceSimulator, events: readonly SimEvent[]) => void;
  readonly code: "SALESFORCE_UNAVAILABLE" | "SALESFORCE_RATE_LIMITED";
  readonly failures: number;
  /** Past the point of no return: one chat alert when it starts failing. */
  readonly alert: boolean;
}

const CASES: Case[] = [
  {
    name: "a burst of 503s on POST staged",
    arm: (sim) => sim.addFault({ method: "POST", path: "/staged", status5xxRate: 1, times: 3 }),
    code: "SALESFORCE_UNAVAILABLE",
    failures: 3,
    alert: false,
  },
  {
    name: "two 503s on PATCH rotate",
    arm: (sim) => sim.addFault({ method: "PATCH", status5xxRate: 1, times: 2 }),
    code: "SALESFORCE_UNAVAILABLE",
    failures: 2,
    alert: true,
  },
  {
    name: "REQUEST_LIMIT_EXCEEDED from the moment the rotation looked at the staged sets",
    arm: () => {},
    onEvent: () => {
      let state: "before" | "limited" | "over" = "before";
      return (sim, events) => {
        const listed = events.some(
          (e) => e.method === "GET" && e.path.endsWith("/staged") && e.status === 200,
        );
        // Out of daily API calls once the inspection has listed the staged sets; back after three refusals.
        if (state === "before" && listed) {
          state = "limited";
          sim.setOptions({ dailyApiLimit: 0 });
        } else if (state === "limited" && events.filter((e) => e.status === 403).length >= 3) {
          state = "over";
          sim.setOptions({ dailyApiLimit: 100_000 });
        }
      };
    },
    code: "SALESFORCE_RATE_LIMITED",
    failures: 3,
    alert: false,
  },
];

describe("eca-rotator serve, Salesforce unavailable or rate-limited mid-rotation", () => {
  for (const c of CASES) {
    it(`${c.name}: backs off, completes once, KV's pair logs in at every poll`, async () => {
      const events: SimEvent[] = [];
      const onEvent = c.onEvent?.();
      let sim: SalesforceSimulator | undefined;
      sim = await startSalesforceSimulator({
        rotateSemantics: "immediate",
        onRequest: (e) => {
          events.push(e);
          if (sim !== undefined) onEvent?.(sim, events);
        },
      });
      try {
        const w = await E2eWorld.create(sim, {
          // One-second scans: the backoff starts at half a second and doubles. max_attempts 2 is fewer than the
          // failures, which an outage may outlast (rotation.retry_budget bounds it).
          rotationExtra: ["scan_interval: 1s", "max_attempts: 2", "retry_budget: 5m"],
          extraYaml: ["server:", `  listen: 127.0.0.1:${await freePort()}`],
        });
        const cred = await w.credential("outage", { rotate: "now", rotate_reason: "CHG-77" });
        const before = sim.counters().promotions;
        c.arm(sim);
        const daemon = await ServeProcess.start(["--config", w.configFile], {
          VAULT_ADDR: w.vault.addr,
          VAULT_TOKEN: w.vault.token,
        });
        try {
          const completed = (r: LogRecord) => r.msg === "rotation completed" && r["path"] === cred.path;
          const seen = await watch(w, cred, () => daemon.records.some(completed), 60_000);
          expect(seen.polls).toBeGreaterThan(3);
          await expectRotatedClean(w, cred, before);
          // State: while it backed off the metadata said so, and the operator's flag stayed until completion.
          expect([...seen.notes].some((n) => n.startsWith("retrying (attempt 1, next after "))).toBe(true);
          expect([...seen.notes].every((n) => n.includes(c.code))).toBe(true);
          expect([...seen.flags]).toEqual(["now"]);
          expect(seen.notes.size).toBeGreaterThan(0);
          expect(seen.steps.has("failed")).toBe(false);
          expect(seen.steps.has("rolling_back")).toBe(false);
          // Logs: one failed attempt per fault, each to be retried; then completed, once.
          expect(daemon.records.filter(failedAttempt(cred, c.code))).toHaveLength(c.failures);
          expect(daemon.records.filter(completed)).toHaveLength(1);
          // Audit: one rotation, a rotation.retrying event per failed attempt, ending in rotation.completed.
          const types = expectCompletedAudit(w, cred);
          expect(types.filter((t) => t === "rotation.retrying")).toHaveLength(c.failures);
          expect(types).not.toContain("rotation.failed");
          expect(types).not.toContain("rotation.rolled_back");
          // Chat (logged: no chat target): the result, and an alert only once past promotion.
          const chats = daemon.records
            .filter((r) => r.msg === "chat message (no chat target configured)")
            .map((r) => String((r["chat"] as Record<string, unknown>)["title"]))
            .filter((t) => t.startsWith("Rotat"));
          expect(chats).toEqual([
            ...(c.alert ? [`Rotation retrying: ${cred.path}`] : []),
            `Rotated: ${cred.path}`,
          ]);
          expect(sim.counters().stagedPosts).toBe(1);
          expect((await daemon.stop()).code).toBe(0);
          // The daemon's own output (logs, chat as logged) holds no secret either.
          const main = sim.primaryPair(cred.app.appId, cred.app.consumerId);
          for (const secret of [cred.oldPair.secret, main.secret, sim.adminApp.consumerSecret]) {
            expect(daemon.stdout + daemon.stderr).not.toContain(secret);
          }
        } finally {
          daemon.child.kill("SIGKILL");
        }
      } finally {
        await sim.close();
      }
    }, 120_000);
  }
});

describe("eca-rotator run --once, a 503 on POST staged", () => {
  it("fails the attempt, leaves the rotation alone until the backoff passes, then completes it", async () => {
    const sim = await startSalesforceSimulator({ rotateSemantics: "overlap" });
    try {
      // The first backoff is 5-10s (half to all of one scan_interval): longer than a run's start-up.
      const w = await E2eWorld.create(sim, { rotationExtra: ["scan_interval: 10s", "retry_budget: 5m"] });
      const cred = await w.credential("once", { rotate: "now" });
      const before = sim.counters().promotions;
      sim.addFault({ method: "POST", path: "/staged", status5xxRate: 1, times: 1 });
      const first = await w.cli(["run", "--once"]);
      expect(first.stdout).toMatch(
        /FAILED SALESFORCE_UNAVAILABLE at staging \(attempt 1, next after \S+Z\): create staged/,
      );
      expect((await w.journal(cred.path))?.data["last_error"]).toContain("re-read: no staged set exists");
      const journal = await w.journal(cred.path);
      expect(journal?.data).toMatchObject({ step: "staging", attempts: "1" });
      const retryAfter = Date.parse(String(journal?.data["retry_after"]));
      expect(retryAfter).toBeGreaterThan(Date.now() - 2_000);
      expect((await w.entry(cred.path))?.meta).toMatchObject({
        rotation_state: "in_progress",
        rotate: "now",
      });

      // Before the backoff ends a run only reports the wait: no Salesforce call, no write, no lease taken.
      const posts = sim.counters().stagedPosts;
      const lease = await w.lease(cred.path);
      const second = await w.cli(["run", "--once"]);
      expect(Date.now()).toBeLessThan(retryAfter);
      expect(second.stdout).toContain("backing off after a failed attempt at staging");
      expect((await w.journal(cred.path))?.version).toBe(journal?.version);
      expect((await w.lease(cred.path))?.version).toBe(lease?.version);
      expect(sim.counters().stagedPosts).toBe(posts);
      await new Promise((r) => setTimeout(r, Math.max(0, retryAfter - Date.now()) + 100));
      let run = await w.cli(["run", "--once"]);
      for (let i = 0; i < 3 && !run.stdout.includes("completed"); i++) run = await w.cli(["run", "--once"]);
      expect(run.stdout).toContain("completed");
      await expectRotatedClean(w, cred, before);
    } finally {
      await sim.close();
    }
  }, 90_000);
});
