// The end-to-end crash tests' switch, which does not ship: a child `eca-rotator` started with
// `node --import test/support/crash-preload.ts` and ECA_ROTATOR_TEST_CRASH_AT=<when>:<call>[#N] kills itself
// with SIGKILL at the chosen port call, so a test can stop a real process at an exact step boundary and prove
// that the next run resumes cleanly.
//   when  before | after   die before the call is made, or right after it returned (or threw)
//   call  a port method, optionally with its port: createStaged, issuer.promote, state.writeJournal, ...
//         ports: issuer (Salesforce), store (the credentials in KV), state (journals, leases, owners)
//   #N    the Nth matching call (default 1)
// SIGKILL, not an exception: nothing runs after it (no finally, no lease release, no flush), exactly like a power
// cut or the OOM killer. The preload patches the adapters' prototypes before the CLI loads them; ES modules are
// loaded once per URL, so the CLI's lazily imported commands get the patched classes.
import path from "node:path";

export const CRASH_AT_VARIABLE = "ECA_ROTATOR_TEST_CRASH_AT";
const CRASH_PRELOAD = path.resolve(import.meta.dirname, "crash-preload.ts");

const CRASH_PORTS = ["issuer", "store", "state"] as const;
export type CrashPort = (typeof CRASH_PORTS)[number];

export interface CrashSpec {
  readonly when: "before" | "after";
  readonly port: CrashPort | undefined;
  readonly method: string;
  readonly nth: number;
}

const SPEC = /^(before|after):(?:(issuer|store|state)\.)?([A-Za-z]+)(?:#([1-9]\d{0,5}))?$/;

export function parseCrashSpec(text: string): CrashSpec {
  const m = SPEC.exec(text.trim());
  if (m === null || m[1] === undefined || m[3] === undefined) {
    throw new Error(
      `${CRASH_AT_VARIABLE} must look like before:createStaged, after:issuer.promote or before:writeJournal#3`,
    );
  }
  return {
    when: m[1] === "before" ? "before" : "after",
    port: m[2] as CrashPort | undefined,
    method: m[3],
    nth: m[4] === undefined ? 1 : Number(m[4]),
  };
}

/** Counts matching calls across every patched port and kills the process at the chosen one. */
export class CrashCounter {
  readonly #spec: CrashSpec;
  readonly #die: () => void;
  #seen = 0;

  constructor(spec: CrashSpec, die: () => void = () => process.kill(process.pid, "SIGKILL")) {
    this.#spec = spec;
    this.#die = die;
  }

  /** Wraps the spec's method on a port class's prototype (this stays the real instance: #private fields work). */
  patch(port: CrashPort, proto: object): void {
    const spec = this.#spec;
    if (spec.port !== undefined && spec.port !== port) return;
    const original: unknown = Reflect.get(proto, spec.method);
    if (typeof original !== "function") return;
    const counter = this;
    Reflect.set(proto, spec.method, function (this: unknown, ...args: unknown[]) {
      return counter.#call(() => original.apply(this, args));
    });
  }

  async #call(run: () => unknown): Promise<unknown> {
    this.#seen += 1;
    const armed = this.#seen === this.#spec.nth;
    if (armed && this.#spec.when === "before") this.#die();
    try {
      return await run();
    } finally {
      if (armed && this.#spec.when === "after") this.#die();
    }
  }
}

/** The arguments that start the CLI under this Node, with the crash preload when the environment asks for it. */
export function cliArgs(
  cli: string,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
): string[] {
  return env[CRASH_AT_VARIABLE] === undefined ? [cli, ...args] : ["--import", CRASH_PRELOAD, cli, ...args];
}
