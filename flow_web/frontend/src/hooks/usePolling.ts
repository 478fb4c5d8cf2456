import { useEffect, useRef } from "react";

/**
 * Calls `tick` every `intervalMs` while `active` (and, unless `immediate` is
 * false, at once when it becomes active), never overlapping: the next call waits for the previous one. Pauses
 * while the tab is hidden and catches up when it is shown again.
 */
export function usePolling(tick: (signal: AbortSignal) => Promise<void>, intervalMs: number, active = true, immediate = true): void {
  const latest = useRef(tick);
  latest.current = tick;
  useEffect(() => {
    if (!active) return;
    const controller = new AbortController();
    let timer: number | undefined;
    let running = false;
    const run = async () => {
      if (running || controller.signal.aborted) return;
      window.clearTimeout(timer);
      if (document.visibilityState === "hidden") {
        timer = window.setTimeout(() => void run(), intervalMs);
        return;
      }
      running = true;
      try {
        await latest.current(controller.signal);
      } catch {
        // the tick shows its own errors; polling goes on
      } finally {
        running = false;
        if (!controller.signal.aborted) timer = window.setTimeout(() => void run(), intervalMs);
      }
    };
    const onVisible = () => document.visibilityState === "visible" && void run();
    document.addEventListener("visibilitychange", onVisible);
    if (immediate) void run();
    else timer = window.setTimeout(() => void run(), intervalMs);
    return () => {
      controller.abort();
      window.clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, [intervalMs, active, immediate]);
}
