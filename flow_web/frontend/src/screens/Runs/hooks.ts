import { useEffect, useRef, useState } from "react";

/** The current time, ticking every `intervalMs` while `active` (durations of running things count up). */
export function useNow(active: boolean, intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    setNow(Date.now());
    const timer = window.setInterval(() => setNow(Date.now()), intervalMs);
    return () => window.clearInterval(timer);
  }, [active, intervalMs]);
  return now;
}

/**
 * Calls `tick` now and then every `intervalMs` while `active`, never two at
 * once; `key` changing restarts it (e.g. another task was selected).
 */
export function useRepeat(tick: (signal: AbortSignal) => Promise<void>, intervalMs: number, active: boolean, key: unknown): void {
  const latest = useRef(tick);
  latest.current = tick;
  useEffect(() => {
    const controller = new AbortController();
    let timer: number | undefined;
    const run = async () => {
      try {
        await latest.current(controller.signal);
      } catch {
        // the tick shows its own errors; repeating goes on
      } finally {
        if (active && !controller.signal.aborted) timer = window.setTimeout(() => void run(), intervalMs);
      }
    };
    void run();
    return () => {
      controller.abort();
      window.clearTimeout(timer);
    };
  }, [intervalMs, active, key]);
}
