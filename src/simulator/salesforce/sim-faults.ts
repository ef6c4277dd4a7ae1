// Fault injection: latency, a rate of 503 maintenance pages, and "commit then drop" (do the work, never answer).

export interface FaultSpec {
  /** Only calls with this HTTP method (any case); all methods when absent. */
  method?: string;
  /** A RegExp tested against path+query, or a substring of it; all paths when absent. */
  path?: RegExp | string;
  latencyMs?: number;
  /** 0..1: share of matching calls answered 503 with an HTML page, without doing the work. */
  status5xxRate?: number;
  /** Do the work (state changes included), then destroy the socket without answering. */
  commitThenDrop?: boolean;
  /** How many matching calls it affects; unlimited when absent. */
  times?: number;
}

export interface FaultDecision {
  latencyMs: number;
  fail5xx: boolean;
  drop: boolean;
}

interface ActiveFault {
  readonly spec: FaultSpec;
  remaining: number;
}

export class FaultTable {
  #faults: ActiveFault[] = [];
  readonly #random: () => number;

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  add(spec: FaultSpec): void {
    const rate = spec.status5xxRate ?? 0;
    if (!(rate >= 0 && rate <= 1)) throw new RangeError("status5xxRate must be between 0 and 1");
    if (spec.latencyMs !== undefined && !(spec.latencyMs >= 0))
      throw new RangeError("latencyMs must be >= 0");
    this.#faults.push({ spec, remaining: spec.times ?? Number.POSITIVE_INFINITY });
  }

  clear(): void {
    this.#faults = [];
  }

  /** What to do to one call; every matching fault counts the call against its `times`. */
  decide(method: string, pathAndQuery: string): FaultDecision {
    const decision: FaultDecision = { latencyMs: 0, fail5xx: false, drop: false };
    for (const f of this.#faults) {
      if (f.remaining <= 0 || !matches(f.spec, method, pathAndQuery)) continue;
      f.remaining -= 1;
      decision.latencyMs += f.spec.latencyMs ?? 0;
      if ((f.spec.status5xxRate ?? 0) > 0 && this.#random() < (f.spec.status5xxRate ?? 0))
        decision.fail5xx = true;
      if (f.spec.commitThenDrop) decision.drop = true;
    }
    this.#faults = this.#faults.filter((f) => f.remaining > 0);
    return decision;
  }
}

function matches(spec: FaultSpec, method: string, pathAndQuery: string): boolean {
  if (spec.method !== undefined && spec.method.toUpperCase() !== method.toUpperCase()) return false;
  if (spec.path === undefined) return true;
  if (typeof spec.path === "string") return pathAndQuery.includes(spec.path);
  spec.path.lastIndex = 0;
  return spec.path.test(pathAndQuery);
}
