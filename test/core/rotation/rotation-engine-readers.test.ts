// Promotion by evidence (soak_until=readers): the soak ends when every reader has moved to the new pair, not before
// the minimum soak, at the latest at soak_max (promote or hold), and never on missing evidence.
import { describe, expect, it } from "vitest";
import { RotatorError } from "../../../src/core/errors.ts";
import type { ReaderEvidence, ReaderSeen } from "../../../src/core/readers/readers.ts";
import type { RotationEngineSettings } from "../../../src/core/rotation/engine-deps.ts";
import type { JournalRecord } from "../../../src/core/rotation/journal-record.ts";
import { createRotationEngine, type RotationEngine } from "../../../src/core/rotation/rotation-engine.ts";
import type { AuditEvent } from "../../../src/core/rotation/rotation-state.ts";
import {
  expectGeneratedCleanly,
  FLAG,
  GPATH,
  makeGeneratedEngine,
  makeGeneratedWorld,
} from "../providers/generated/generated-world.ts";
import {
  expectRotatedCleanly,
  FLAG_START,
  MINUTE,
  makeDeps,
  makeWorld,
  onJournalWrite,
  PATH,
  T0,
  type World,
} from "./rotation-world.ts";

const HOUR = 60 * MINUTE;
const T = (ms: number) => new Date(Date.parse(T0) + ms);

/** The reader feed as the engine sees it: each reader's latest read of each path, by id. */
class FakeReaders implements ReaderEvidence {
  readonly #latest = new Map<string, ReaderSeen>();
  readonly path: string;
  constructor(path: string = PATH) {
    this.path = path;
  }
  calls = 0;
  failing = false;

  read(id: string, label: string, version: number, at: Date): void {
    this.#latest.set(id, { id, label, version, at });
  }

  async readersOf(path: string, since: Date): Promise<readonly ReaderSeen[]> {
    this.calls += 1;
    if (this.failing) {
      throw new RotatorError("VAULT_UNAVAILABLE", "the shared reader entries cannot be read", {
        retryable: true,
      });
    }
    expect(path).toBe(this.path);
    return [...this.#latest.values()].filter((r) => r.at >= since);
  }
}

const READERS_META = { soak_until: "readers", soak: "15m", soak_max: "2h", on_soak_max: "promote" };

function world(meta: Record<string, string> = {}): World {
  return makeWorld({ metadata: { ...READERS_META, ...meta } });
}

function engineFor(
  w: World,
  readers: ReaderEvidence | undefined,
  settings: Partial<RotationEngineSettings> = {},
): RotationEngine {
  return createRotationEngine({ ...makeDeps(w, { settings }), readers });
}

/** Two readers of the credential, both on the seed's version (v1) an hour before the rotation. */
function twoReaders(): FakeReaders {
  const r = new FakeReaders();
  r.read("entity:crm", "crm-sync", 1, T(-HOUR));
  r.read("token:billing:abc", "token-billing-sync", 1, T(-HOUR));
  return r;
}

function promotedEvent(w: World): AuditEvent | undefined {
  return w.audit.events.find((e) => e.type === "rotation.promoted");
}

describe("soak_until=readers", () => {
  it("promotes the moment the last reader moves, never before the minimum soak", async () => {
    const w = world();
    const readers = twoReaders();
    const engine = engineFor(w, readers);

    const first = await engine.start(PATH, FLAG_START);
    expect(first).toMatchObject({ kind: "waiting", waiting: "soak", until: T(15 * MINUTE) });
    // The flag that started the rotation is spent: a rotate=now set from here on means "promote now".
    expect(w.store.current(PATH).metadata["rotate"]).toBeUndefined();
    expect(w.state.journal(PATH)).toMatchObject({ promoteBy: T(2 * HOUR), onSoakMax: "promote" });

    // Both readers move at once, but the minimum soak still runs.
    readers.read("entity:crm", "crm-sync", 2, T(MINUTE));
    readers.read("token:billing:abc", "token-billing-sync", 1, T(2 * MINUTE)); // still the old pair
    w.clock.advance(5 * MINUTE);
    expect(await engine.resume(PATH)).toMatchObject({ kind: "waiting", waiting: "soak" });
    expect(w.issuer.promotions).toBe(0);

    w.clock.advance(10 * MINUTE);
    const before = w.state.journal(PATH);
    const waiting = await engine.resume(PATH);
    expect(waiting).toMatchObject({
      kind: "waiting",
      waiting: "readers",
      until: T(16 * MINUTE),
      detail: "waiting for readers: 1 of 2 moved; waiting for token-billing-sync, last read v1 13m ago",
    });
    expect(w.issuer.promotions).toBe(0);
    // Judged without the lease: the journal is not rewritten and nothing is audited for a look.
    expect(w.state.journal(PATH)).toEqual(before);
    expect(w.audit.types().filter((t) => t === "rotation.resumed")).toHaveLength(0);

    const journals: JournalRecord[] = [];
    const deps = makeDeps(w, {
      ports: {
        state: onJournalWrite(w, "promoting", "after", () => void journals.push(w.state.journal(PATH)!)),
      },
    });
    const watched = createRotationEngine({ ...deps, readers });
    w.clock.advance(30_000);
    readers.read("token:billing:abc", "token-billing-sync", 2, w.clock.now());
    const done = await watched.resume(PATH);
    expect(done).toMatchObject({ kind: "completed" });
    expectRotatedCleanly(w);

    expect(journals[0]?.evidence).toMatchObject({
      decision: "all-moved",
      publishedVersion: 2,
      movedCount: 2,
      laggingCount: 0,
      moved: [
        { label: "crm-sync", version: 2 },
        { label: "token-billing-sync", version: 2 },
      ],
      lagging: [],
    });
    expect(promotedEvent(w)?.evidence).toMatchObject({
      decision: "all-moved",
      movedCount: 2,
      laggingCount: 0,
    });
    const chat = w.notifier.sent.map((n) => n.text);
    expect(chat).toHaveLength(1);
    expect(chat[0]).toContain(
      "Promotion: 2 of 2 readers on the new pair (v2); promoted as soon as every reader had moved.",
    );
  });

  it("at soak_max with on_soak_max=promote: promotes and names the laggard in chat, journal and audit", async () => {
    const w = world();
    const readers = twoReaders();
    const engine = engineFor(w, readers);
    await engine.start(PATH, FLAG_START);
    readers.read("entity:crm", "crm-sync", 2, T(MINUTE));
    readers.read("token:billing:abc", "token-billing-sync", 1, T(MINUTE));

    w.clock.advance(HOUR + 59 * MINUTE + 30_000);
    const last = await engine.resume(PATH);
    // The next look never goes past soak_max.
    expect(last).toMatchObject({ kind: "waiting", waiting: "readers", until: T(2 * HOUR) });

    const journals: JournalRecord[] = [];
    const deps = makeDeps(w, {
      ports: {
        state: onJournalWrite(w, "promoting", "after", () => void journals.push(w.state.journal(PATH)!)),
      },
    });
    w.clock.advance(30_000);
    expect(await createRotationEngine({ ...deps, readers }).resume(PATH)).toMatchObject({
      kind: "completed",
    });
    expect(w.issuer.promotions).toBe(1);

    const evidence = {
      decision: "soak-max",
      movedCount: 1,
      laggingCount: 1,
      moved: [{ label: "crm-sync", version: 2 }],
      lagging: [{ label: "token-billing-sync", version: 1, at: T(MINUTE) }],
    };
    expect(journals[0]?.evidence).toMatchObject(evidence);
    expect(promotedEvent(w)?.evidence).toMatchObject({
      ...evidence,
      lagging: [{ label: "token-billing-sync", version: 1, at: T(MINUTE).toISOString() }],
    });
    const warn = w.notifier.sent.find((n) => n.kind === "rotation.action_needed");
    expect(warn?.text).toContain(
      "1 of 2 readers on the new pair (v2); promoted at soak_max without token-billing-sync, last read v1 1h 59m ago",
    );
    expect(w.notifier.sent.at(-1)?.kind).toBe("rotation.completed");
  });

  it("at soak_max with on_soak_max=hold: alerts once, never promotes, and rotate=now promotes", async () => {
    const w = world({ on_soak_max: "hold" });
    const readers = twoReaders();
    const engine = engineFor(w, readers);
    await engine.start(PATH, FLAG_START);
    readers.read("entity:crm", "crm-sync", 2, T(MINUTE));

    w.clock.advance(2 * HOUR);
    const held = await engine.resume(PATH);
    expect(held).toMatchObject({ kind: "waiting", waiting: "readers", step: "published" });
    expect(held.kind === "waiting" && held.detail).toContain("held at soak_max");
    // A restarted engine keeps holding, and does not alert again.
    for (let i = 0; i < 3; i++) {
      w.clock.advance(HOUR);
      expect(await engineFor(w, readers).resume(PATH)).toMatchObject({ kind: "waiting", waiting: "readers" });
    }
    expect(w.issuer.promotions).toBe(0);
    expect(w.issuer.validPairs()).toHaveLength(2); // both pairs still work
    expect(w.audit.types().filter((t) => t === "rotation.held")).toHaveLength(1);
    const alerts = w.notifier.sent.filter((n) => n.kind === "rotation.action_needed");
    expect(alerts).toHaveLength(1);
    expect(alerts[0]?.text).toContain(
      "held at soak_max (on_soak_max=hold): 1 of 2 readers on the new pair (v2)",
    );
    expect(alerts[0]?.text).toContain("token-billing-sync, last read v1 3h ago");
    expect(w.audit.events.find((e) => e.type === "rotation.held")?.evidence).toMatchObject({
      decision: "soak-max",
      laggingCount: 1,
    });
    expect(w.state.journal(PATH)?.heldAt).toEqual(T(2 * HOUR));

    // The operator acts: rotate=now.
    await w.store.patchMetadata(PATH, { rotate: "now", rotate_reason: "billing is retired" });
    const done = await engine.start(PATH, FLAG_START);
    expect(done).toMatchObject({ kind: "completed" });
    expectRotatedCleanly(w);
    expect(promotedEvent(w)?.evidence).toMatchObject({ decision: "operator", laggingCount: 1 });
    expect(w.notifier.sent.at(-1)?.text).toContain(
      "promoted when operator-flag ended the soak, still on the old pair: token-billing-sync",
    );
  });

  it("rotate PATH (the CLI) during a readers soak promotes at once, before soak_max", async () => {
    const w = world();
    const readers = twoReaders();
    const engine = engineFor(w, readers);
    await engine.start(PATH, FLAG_START);
    w.clock.advance(30 * MINUTE);
    expect(await engine.resume(PATH)).toMatchObject({ kind: "waiting", waiting: "readers" });
    const out = await engine.start(PATH, { mode: "standard", trigger: "cli", actor: "cli" });
    expect(out).toMatchObject({ kind: "completed" });
    expect(promotedEvent(w)?.evidence).toMatchObject({
      decision: "operator",
      movedCount: 0,
      laggingCount: 2,
    });
    // The schedule is no operator: it never ends a readers soak.
    const w2 = world();
    const engine2 = engineFor(w2, twoReaders());
    await engine2.start(PATH, FLAG_START);
    w2.clock.advance(30 * MINUTE);
    expect(
      await engine2.start(PATH, { mode: "standard", trigger: "schedule", actor: "scheduler" }),
    ).toMatchObject({
      kind: "waiting",
      waiting: "readers",
    });
    expect(w2.issuer.promotions).toBe(0);
  });

  it("with no reader feed: never promotes early, waits to soak_max and says why", async () => {
    const w = world();
    const engine = engineFor(w, undefined);
    await engine.start(PATH, FLAG_START);
    w.clock.advance(HOUR);
    expect(await engine.resume(PATH)).toMatchObject({
      kind: "waiting",
      waiting: "readers",
      detail: "waiting for readers: no reader feed; no promotion before soak_max",
    });
    expect(w.issuer.promotions).toBe(0);
    w.clock.advance(HOUR);
    expect(await engine.resume(PATH)).toMatchObject({ kind: "completed" });
    expect(promotedEvent(w)?.evidence).toMatchObject({ decision: "soak-max", missing: "no reader feed" });
    expect(w.notifier.sent.find((n) => n.kind === "rotation.action_needed")?.text).toContain(
      "no reader evidence (no reader feed); promoted at soak_max",
    );
  });

  it("when the reader feed fails: no promotion on missing evidence, and a hold holds", async () => {
    const w = world({ on_soak_max: "hold" });
    const readers = twoReaders();
    const engine = engineFor(w, readers);
    await engine.start(PATH, FLAG_START);
    // Every reader has moved, but the feed cannot say so.
    readers.read("entity:crm", "crm-sync", 2, T(MINUTE));
    readers.read("token:billing:abc", "token-billing-sync", 2, T(MINUTE));
    readers.failing = true;
    w.clock.advance(HOUR);
    expect(await engine.resume(PATH)).toMatchObject({
      kind: "waiting",
      waiting: "readers",
      detail: "waiting for readers: the reader feed failed (VAULT_UNAVAILABLE); no promotion before soak_max",
    });
    w.clock.advance(2 * HOUR);
    expect(await engine.resume(PATH)).toMatchObject({ kind: "waiting", waiting: "readers" });
    expect(w.issuer.promotions).toBe(0);
    expect(w.notifier.sent.find((n) => n.kind === "rotation.action_needed")?.text).toContain(
      "there is no reader evidence (the reader feed failed (VAULT_UNAVAILABLE))",
    );
    // The feed comes back and shows everyone moved: the evidence promotes.
    readers.failing = false;
    w.clock.advance(MINUTE);
    expect(await engine.resume(PATH)).toMatchObject({ kind: "completed" });
    expect(promotedEvent(w)?.evidence).toMatchObject({ decision: "all-moved", movedCount: 2 });
  });

  it("an emergency ignores readers entirely", async () => {
    const w = world({ rotate: "emergency" });
    const readers = twoReaders();
    const out = await engineFor(w, readers).start(PATH, { ...FLAG_START, mode: "emergency" });
    expect(out).toMatchObject({ kind: "completed", mode: "emergency" });
    expect(readers.calls).toBe(0);
    expect(promotedEvent(w)?.evidence).toBeUndefined();
    expect(w.state.journal(PATH)).toBeUndefined();
  });

  it("an emergency flag during a readers soak promotes at once, recorded as the operator's decision", async () => {
    const w = world();
    const readers = twoReaders();
    const engine = engineFor(w, readers);
    await engine.start(PATH, FLAG_START);
    w.clock.advance(20 * MINUTE);
    await w.store.patchMetadata(PATH, { rotate: "emergency" });
    const out = await engine.start(PATH, { ...FLAG_START, mode: "emergency" });
    expect(out).toMatchObject({ kind: "completed" });
    expect(promotedEvent(w)?.evidence).toMatchObject({ decision: "operator", laggingCount: 2 });
  });

  it("a restart mid-soak decides the same way from the journal", async () => {
    const w = world();
    const readers = twoReaders();
    await engineFor(w, readers).start(PATH, FLAG_START);
    readers.read("entity:crm", "crm-sync", 2, T(MINUTE));
    w.clock.advance(30 * MINUTE);
    const a = await engineFor(w, readers).resume(PATH);
    const b = await engineFor(w, readers).resume(PATH);
    expect(b).toEqual(a);
    expect(a).toMatchObject({ kind: "waiting", waiting: "readers" });

    readers.read("token:billing:abc", "token-billing-sync", 3, T(31 * MINUTE));
    w.clock.advance(2 * MINUTE);
    expect(await engineFor(w, readers).resume(PATH)).toMatchObject({ kind: "completed" });
    expect(promotedEvent(w)?.evidence).toMatchObject({ decision: "all-moved" });
  });

  it("the soak rule is pinned at publication: a later metadata change does not alter a running soak", async () => {
    const w = world();
    const readers = twoReaders();
    const engine = engineFor(w, readers);
    await engine.start(PATH, FLAG_START);
    await w.store.patchMetadata(PATH, { soak_until: "time" });
    w.clock.advance(20 * MINUTE);
    expect(await engine.resume(PATH)).toMatchObject({ kind: "waiting", waiting: "readers" });
    expect(w.issuer.promotions).toBe(0);
  });

  it("soak_until=time (the default) is unchanged: promotion at the soak's end, no evidence asked for", async () => {
    const w = makeWorld();
    const readers = twoReaders();
    const engine = engineFor(w, readers);
    await engine.start(PATH, FLAG_START);
    w.clock.advance(15 * MINUTE);
    expect(await engine.resume(PATH)).toMatchObject({ kind: "completed" });
    expect(readers.calls).toBe(0);
    expect(promotedEvent(w)?.evidence).toBeUndefined();
  });

  it("the config default rotation.soak_until=readers applies to credentials without the key", async () => {
    const w = makeWorld();
    const readers = twoReaders();
    const engine = engineFor(w, readers, { soakUntil: "readers", soakMaxMs: HOUR, onSoakMax: "hold" });
    await engine.start(PATH, FLAG_START);
    expect(w.state.journal(PATH)).toMatchObject({ promoteBy: T(HOUR), onSoakMax: "hold" });
    w.clock.advance(HOUR);
    expect(await engine.resume(PATH)).toMatchObject({ kind: "waiting", waiting: "readers" });
    expect(w.issuer.promotions).toBe(0);
  });

  it("with a soak of 0 still waits for the readers' evidence", async () => {
    const w = world({ soak: "0s" });
    const readers = twoReaders();
    const out = await engineFor(w, readers).start(PATH, FLAG_START);
    expect(out).toMatchObject({ kind: "waiting", waiting: "readers" });
    expect(w.issuer.promotions).toBe(0);
  });

  it("reader labels reach chat as one bounded line", async () => {
    const w = world();
    const readers = new FakeReaders();
    readers.read("token:x", `evil\u202e*bold*\nlabel${"x".repeat(200)}`, 1, T(-MINUTE));
    const engine = engineFor(w, readers);
    await engine.start(PATH, FLAG_START);
    w.clock.advance(2 * HOUR);
    expect(await engine.resume(PATH)).toMatchObject({ kind: "completed" });
    const lagging = promotedEvent(w)?.evidence?.lagging[0]?.label ?? "";
    expect(lagging).not.toMatch(/[\u202e\n]/);
    expect(Array.from(lagging).length).toBeLessThanOrEqual(64);
    expect(lagging.startsWith("evil\ufffd*bold* label")).toBe(true);
  });
});

describe("soak_until=readers, provider=generated", () => {
  it("ends the dual-accept overlap once every reader has the new secret, recording the evidence", async () => {
    const w = makeGeneratedWorld({ metadata: { soak_until: "readers", soak: "5m", soak_max: "1h" } });
    const readers = new FakeReaders(GPATH);
    readers.read("entity:receiver", "webhook-receiver", 1, T(-HOUR));
    const engine = makeGeneratedEngine(w, { readers });
    expect(await engine.start(GPATH, FLAG)).toMatchObject({ kind: "waiting", waiting: "soak" });
    w.clock.advance(10 * MINUTE);
    expect(await engine.resume(GPATH)).toMatchObject({
      kind: "waiting",
      waiting: "readers",
      provider: "generated",
      detail: "waiting for readers: 0 of 1 moved; waiting for webhook-receiver, last read v1 1h 10m ago",
    });
    expect(w.store.current(GPATH).data["rotation_phase"]).toBe("dual-accept");

    readers.read("entity:receiver", "webhook-receiver", 2, w.clock.now());
    w.clock.advance(MINUTE);
    expect(await engine.resume(GPATH)).toMatchObject({ kind: "completed", provider: "generated" });
    expectGeneratedCleanly(w);
    expect(w.audit.events.find((e) => e.type === "rotation.retired")?.evidence).toMatchObject({
      decision: "all-moved",
      movedCount: 1,
      moved: [{ label: "webhook-receiver", version: 2 }],
    });
    expect(w.notifier.sent.at(-1)?.text).toContain(
      "Overlap ended: 1 of 1 reader on the new secret (v2); promoted as soon as every reader had moved.",
    );
  });

  it("an operator's rotate=now ends a readers overlap at once", async () => {
    const w = makeGeneratedWorld({
      metadata: { soak_until: "readers", soak: "5m", soak_max: "1h", on_soak_max: "hold" },
    });
    const readers = new FakeReaders(GPATH);
    readers.read("entity:receiver", "webhook-receiver", 1, T(-HOUR));
    const engine = makeGeneratedEngine(w, { readers });
    await engine.start(GPATH, FLAG);
    w.clock.advance(2 * HOUR);
    expect(await engine.resume(GPATH)).toMatchObject({ kind: "waiting", waiting: "readers" });
    expect(w.store.current(GPATH).data["rotation_phase"]).toBe("dual-accept");
    await w.store.patchMetadata(GPATH, { rotate: "now" });
    expect(await engine.start(GPATH, FLAG)).toMatchObject({ kind: "completed" });
    expect(w.audit.events.find((e) => e.type === "rotation.retired")?.evidence).toMatchObject({
      decision: "operator",
      laggingCount: 1,
    });
  });
});
