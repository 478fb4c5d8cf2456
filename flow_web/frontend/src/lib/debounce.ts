/**
 * Debouncing for inputs that call a service as the user types (ecron's
 * schedule preview): only the last call of a burst runs, `delayMs` after it.
 * Timers are injectable so the behaviour is tested without waiting.
 */

export interface Timers {
  set(callback: () => void, delayMs: number): unknown;
  clear(handle: unknown): void;
}

const browserTimers: Timers = {
  set: (callback, delayMs) => globalThis.setTimeout(callback, delayMs),
  clear: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface Debounced<A extends unknown[]> {
  (...args: A): void;
  /** Drop the pending call, if any. */
  cancel(): void;
  /** Run the pending call now, if any. */
  flush(): void;
  pending(): boolean;
}

export function debounce<A extends unknown[]>(fn: (...args: A) => void, delayMs: number, timers: Timers = browserTimers): Debounced<A> {
  let handle: unknown = null;
  let lastArgs: A | null = null;
  const fire = () => {
    handle = null;
    const args = lastArgs;
    lastArgs = null;
    if (args) fn(...args);
  };
  const debounced = ((...args: A) => {
    lastArgs = args;
    if (handle !== null) timers.clear(handle);
    handle = timers.set(fire, delayMs);
  }) as Debounced<A>;
  debounced.cancel = () => {
    if (handle !== null) timers.clear(handle);
    handle = null;
    lastArgs = null;
  };
  debounced.flush = () => {
    if (handle === null) return;
    timers.clear(handle);
    fire();
  };
  debounced.pending = () => handle !== null;
  return debounced;
}

/**
 * Hands out one AbortSignal per request and aborts the previous one, so only
 * the answer to the latest input is ever shown.
 */
export class LatestOnly {
  private controller: AbortController | null = null;
  private generation = 0;

  next(): { signal: AbortSignal; isCurrent: () => boolean } {
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    const generation = ++this.generation;
    return { signal: controller.signal, isCurrent: () => generation === this.generation && !controller.signal.aborted };
  }

  cancel(): void {
    this.controller?.abort();
    this.controller = null;
    this.generation++;
  }
}
