// TEST ONLY: makes the process die with SIGKILL at a chosen port call, so the end-to-end tests can kill a real
// `eca-rotator` process at an exact step boundary and prove that the next run resumes cleanly.
//
//   ECA_ROTATOR_TEST_MODE=1 ECA_ROTATOR_TEST_CRASH_AT=<when>:<call>[#N]
//     when  before | after   die before the call is made, or right after it returned (or threw)
//     call  a port method, optionally with its port: createStaged, issuer.promote, state.writeJournal, ...
//           ports: issuer, store, state, audit, notifier
//     #N    the Nth matching call (default 1)
//
// Without ECA_ROTATOR_TEST_MODE=1 the switch is ignored with a warning, so a stray variable in production can
// never kill a rotation. SIGKILL, not an exception: nothing runs after it (no finally, no lease release, no
// flush), exactly like a power cut or the OOM killer.
import { RotatorError } from "../core/errors.ts";

export const CRASH_AT_VARIABLE = "ECA_ROTATOR_TEST_CRASH_AT";
export const TEST_MODE_VARIABLE = "ECA_ROTATOR_TEST_MODE";

export const CRASH_PORTS = ["issuer", "store", "state", "audit", "notifier"] as const;
export type CrashPort = (typeof CRASH_PORTS)[number];

export interface CrashSpec {
  readonly when: "before" | "after";
  readonly port: CrashPort | undefined;
  readonly method: string;
  readonly nth: number;
}

const SPEC = /^(before|after):(?:(issuer|store|state|audit|notifier)\.)?([A-Za-z]+)(?:#([1-9]\d{0,5}))?$/;

export function parseCrashSpec(text: string): CrashSpec {
  const m = SPEC.exec(text.trim());
  if (m === null || m[1] === undefined || m[3] === undefined) {
    throw new RotatorError(
      "CONFIG_INVALID",
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

/**
 * The spec to arm from the environment, or undefined. `warn` is told when the variable is set but ignored
 * (no test mode); a malformed spec in test mode is a CONFIG_INVALID error, never silently ignored.
 */
export function crashSpecFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  warn: (line: string) => void,
): CrashSpec | undefined {
  const text = env[CRASH_AT_VARIABLE];
  if (text === undefined || text === "") return undefined;
  if (env[TEST_MODE_VARIABLE] !== "1") {
    warn(
      `warning: ${CRASH_AT_VARIABLE} is a test-only switch and is ignored without ${TEST_MODE_VARIABLE}=1`,
    );
    return undefined;
  }
  return parseCrashSpec(text);
}

/** Counts matching calls across every wrapped port and kills the process at the chosen one. */
export class CrashInjector {
  readonly #spec: CrashSpec;
  readonly #die: () => void;
  #seen = 0;

  constructor(spec: CrashSpec, die: () => void = () => process.kill(process.pid, "SIGKILL")) {
    this.#spec = spec;
    this.#die = die;
  }

  wrap<T extends object>(port: CrashPort, target: T): T {
    const spec = this.#spec;
    if (spec.port !== undefined && spec.port !== port) return target;
    return new Proxy(target, {
      get: (obj, prop, receiver) => {
        const value: unknown = Reflect.get(obj, prop, receiver);
        if (typeof value !== "function") return value;
        // Always call on the real object: adapters keep #private fields, which a Proxy receiver cannot reach.
        if (prop !== spec.method) return value.bind(obj);
        return (...args: unknown[]) => this.#call(() => value.apply(obj, args));
      },
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
