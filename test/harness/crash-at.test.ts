import { describe, expect, it } from "vitest";
import { CrashCounter, cliArgs, parseCrashSpec } from "../support/crash-at.ts";

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

/** A fresh Port class per test (the switch patches its prototype), armed with `spec` as the "state" port. */
function armed(spec: string) {
  const deaths: string[] = [];
  class StatePort extends Port {}
  // The patch goes on the class's own prototype, as on the real adapter classes.
  for (const name of ["writeJournal", "readJournal"] as const) {
    Object.defineProperty(StatePort.prototype, name, {
      value: Port.prototype[name],
      writable: true,
      configurable: true,
    });
  }
  const counter = new CrashCounter(parseCrashSpec(spec), () => {
    deaths.push("died");
    throw new Died();
  });
  counter.patch("state", StatePort.prototype);
  const port = new StatePort();
  return { port, wrapped: port, deaths };
}

describe("the end-to-end tests' crash switch (not shipped)", () => {
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

  it("starts the CLI with the preload only when the environment asks for a crash", () => {
    expect(cliArgs("cli.ts", ["scan"], {})).toEqual(["cli.ts", "scan"]);
    const armedArgs = cliArgs("cli.ts", ["run", "--once"], { ECA_ROTATOR_TEST_CRASH_AT: "after:promote" });
    expect(armedArgs.slice(0, 2)[0]).toBe("--import");
    expect(armedArgs[1]).toMatch(/test\/support\/crash-preload\.ts$/);
    expect(armedArgs.slice(2)).toEqual(["cli.ts", "run", "--once"]);
  });
});
