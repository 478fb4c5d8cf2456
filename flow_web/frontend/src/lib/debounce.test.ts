import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LatestOnly, debounce } from "./debounce";

describe("debounce", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("runs only the last call of a burst, after the delay", () => {
    const calls: string[] = [];
    const typed = debounce((text: string) => calls.push(text), 300);
    typed("0");
    vi.advanceTimersByTime(200);
    typed("0 6");
    vi.advanceTimersByTime(200);
    typed("0 6 * * *");
    expect(calls).toEqual([]);
    expect(typed.pending()).toBe(true);
    vi.advanceTimersByTime(299);
    expect(calls).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(calls).toEqual(["0 6 * * *"]);
    expect(typed.pending()).toBe(false);
  });

  it("runs again for a later burst", () => {
    const calls: number[] = [];
    const debounced = debounce((n: number) => calls.push(n), 100);
    debounced(1);
    vi.advanceTimersByTime(100);
    debounced(2);
    debounced(3);
    vi.advanceTimersByTime(100);
    expect(calls).toEqual([1, 3]);
  });

  it("cancels and flushes", () => {
    const calls: number[] = [];
    const debounced = debounce((n: number) => calls.push(n), 100);
    debounced(1);
    debounced.cancel();
    vi.advanceTimersByTime(500);
    expect(calls).toEqual([]);
    debounced(2);
    debounced.flush();
    expect(calls).toEqual([2]);
    vi.advanceTimersByTime(500);
    expect(calls).toEqual([2]);
    debounced.flush();
    expect(calls).toEqual([2]);
  });

  it("uses the timers it is given", () => {
    const scheduled: Array<() => void> = [];
    const cleared: unknown[] = [];
    const timers = {
      set: (callback: () => void) => scheduled.push(callback) - 1,
      clear: (handle: unknown) => cleared.push(handle),
    };
    const calls: string[] = [];
    const debounced = debounce((text: string) => calls.push(text), 50, timers);
    debounced("a");
    debounced("b");
    expect(cleared).toEqual([0]);
    scheduled[1]();
    expect(calls).toEqual(["b"]);
  });
});

describe("LatestOnly", () => {
  it("aborts the previous request when a new one starts", () => {
    const latest = new LatestOnly();
    const first = latest.next();
    expect(first.isCurrent()).toBe(true);
    const second = latest.next();
    expect(first.signal.aborted).toBe(true);
    expect(first.isCurrent()).toBe(false);
    expect(second.isCurrent()).toBe(true);
    latest.cancel();
    expect(second.signal.aborted).toBe(true);
    expect(second.isCurrent()).toBe(false);
  });
});
