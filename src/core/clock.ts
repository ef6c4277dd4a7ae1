/** Time is injected everywhere so due-date maths and schedules are deterministic in tests. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock for tests and for the report's "as of" time: returns a fixed instant until moved. */
export class FixedClock implements Clock {
  #ms: number;
  constructor(at: Date | string) {
    this.#ms = new Date(at).getTime();
  }
  now(): Date {
    return new Date(this.#ms);
  }
  advance(ms: number): void {
    this.#ms += ms;
  }
}

/**
 * Timers, injected like the clock: background work (lease renewal) is scheduled here so tests can run it on a
 * FixedClock. `fn`'s promise, when it returns one, is the work the timer started.
 */
export interface Scheduler {
  schedule(fn: () => void | Promise<void>, delayMs: number): TimerHandle;
  cancel(handle: TimerHandle): void;
}

export type TimerHandle = { readonly __timer: unique symbol };

/** Node's timers, unref'd: a pending timer never keeps the process alive on its own. */
export const systemScheduler: Scheduler = {
  schedule(fn, delayMs) {
    // The work handles its own failures; a rejection that still escapes must not end the process.
    const t = setTimeout(
      () => {
        Promise.resolve()
          .then(fn)
          .catch(() => undefined);
      },
      Math.max(0, delayMs),
    );
    t.unref();
    return t as unknown as TimerHandle;
  },
  cancel(handle) {
    clearTimeout(handle as unknown as NodeJS.Timeout);
  },
};
