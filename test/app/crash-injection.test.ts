import { describe, expect, it } from "vitest";
import { CrashInjector, crashSpecFromEnv, parseCrashSpec } from "../../src/app/crash-injection.ts";

class Died extends Error {}

/** A port with a private field, like the real adapters (a Proxy receiver cannot reach it). */
class Port {
  readonly #calls: string[] = [];
  async writeJournal(n: number): Promise<number> {
    this.#calls.push(`writeJournal ${n}`);
    return n;
  }
  async readJournal(): Promise<string[]> {
    return [...this.#calls];
  }
}

function armed(spec: string) {
  const deaths: string[] = [];
  const port = new Port();
  const injector = new CrashInjector(parseCrashSpec(spec), () => {
    deaths.push("died");
    throw new Died();
  });
  return { port, wrapped: injector.wrap("state", port), deaths };
}

describe("the test-only crash switch", () => {
  it("parses before/after, an optional port and an optional call number", () => {
    expect(parseCrashSpec("before:createStaged")).toEqual({
      when: "before",
      port: undefined,
      method: "createStaged",
      nth: 1,
    });
    expect(parseCrashSpec("after:state.writeJournal#3")).toEqual({
      when: "after",
      port: "state",
      method: "writeJournal",
      nth: 3,
    });
  });

  it.each(["during:promote", "before:", "after:vault.read", "before:promote#0", "before:promote#x"])(
    "refuses the malformed spec %s, naming the variable",
    (spec) => {
      expect(() => parseCrashSpec(spec)).toThrow(/ECA_ROTATOR_TEST_CRASH_AT must look like/);
    },
  );

  it("dies before the Nth matching call without making it", async () => {
    const { port, wrapped, deaths } = armed("before:writeJournal#2");
    await wrapped.writeJournal(1);
    await expect(wrapped.writeJournal(2)).rejects.toBeInstanceOf(Died);
    expect(deaths).toEqual(["died"]);
    expect(await port.readJournal()).toEqual(["writeJournal 1"]);
  });

  it("dies after the call took effect", async () => {
    const { port, wrapped, deaths } = armed("after:writeJournal");
    await expect(wrapped.writeJournal(7)).rejects.toBeInstanceOf(Died);
    expect(deaths).toEqual(["died"]);
    expect(await port.readJournal()).toEqual(["writeJournal 7"]);
  });

  it("passes other methods and other ports through untouched", async () => {
    const { wrapped, deaths } = armed("before:issuer.writeJournal");
    expect(await wrapped.writeJournal(1)).toBe(1); // wrapped as "state", not "issuer"
    expect(await wrapped.readJournal()).toEqual(["writeJournal 1"]);
    expect(deaths).toEqual([]);
  });

  it("is ignored with a warning unless ECA_ROTATOR_TEST_MODE=1", () => {
    const warnings: string[] = [];
    const env = { ECA_ROTATOR_TEST_CRASH_AT: "before:promote" };
    expect(crashSpecFromEnv(env, (l) => warnings.push(l))).toBeUndefined();
    expect(warnings).toEqual([
      "warning: ECA_ROTATOR_TEST_CRASH_AT is a test-only switch and is ignored without ECA_ROTATOR_TEST_MODE=1",
    ]);
    expect(crashSpecFromEnv({ ...env, ECA_ROTATOR_TEST_MODE: "1" }, () => {})).toMatchObject({
      method: "promote",
    });
    expect(crashSpecFromEnv({}, () => {})).toBeUndefined();
  });
});
