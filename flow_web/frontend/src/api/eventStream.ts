/**
 * Following a Server-Sent Events stream with fetch(), so the request carries
 * the session's bearer token (EventSource cannot send an Authorization header).
 *
 * A dropped connection (a network error, a 5xx from the proxy, the body ending
 * before the final event, or no bytes for `stallMs` although the server sends a
 * keepalive every 15 s) is reopened with Last-Event-ID set to the last event's
 * id, after an exponential backoff, so nothing is lost and nothing repeats. A
 * 401 is retried once after a silent token refresh; any other 4xx ends the
 * stream with the server's message (an ApiError). The stream is over when the
 * server closes it after a message `isFinal` accepted, or when `signal` aborts.
 */
import { ApiError, errorFromResponse } from "./client";
import { type SseMessage, SseParser } from "../lib/sse";

export type StreamStatus =
  | { kind: "connecting"; attempt: number }
  | { kind: "open" }
  | { kind: "reconnecting"; attempt: number; delayMs: number; reason: string }
  | { kind: "ended" };

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
}

export interface FollowOptions {
  url: string;
  accessToken: () => Promise<string | null>;
  refresh?: () => Promise<boolean>;
  /** Resume after this event id (the Last-Event-ID of the first request). */
  lastEventId?: string | null;
  onMessage: (message: SseMessage) => void;
  onStatus?: (status: StreamStatus) => void;
  /** Whether a message is the stream's last (the server closes the stream after it). */
  isFinal?: (message: SseMessage) => boolean;
  signal: AbortSignal;
  backoff?: Partial<BackoffOptions>;
  /** Reconnect when nothing (not even a keepalive) arrived for this long. */
  stallMs?: number;
  fetch?: typeof fetch;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
}

export interface FollowResult {
  outcome: "ended" | "aborted";
  lastEventId: string | null;
}

const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 15_000, factor: 2 };

/** The delay before reconnect number `attempt` (1-based): exponential, capped, with up to 20% jitter. */
export function backoffDelay(attempt: number, options: Partial<BackoffOptions> = {}, random: () => number = Math.random): number {
  const { initialMs, maxMs, factor } = { ...DEFAULT_BACKOFF, ...options };
  const base = Math.min(maxMs, initialMs * factor ** Math.max(0, attempt - 1));
  return Math.round(base * (1 + 0.2 * random()));
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}

class Dropped extends Error {}

export async function followEventStream(options: FollowOptions): Promise<FollowResult> {
  const fetchImpl = options.fetch ?? ((...args: Parameters<typeof fetch>) => globalThis.fetch(...args));
  const sleep = options.sleep ?? abortableSleep;
  const stallMs = options.stallMs ?? 45_000;
  const { signal } = options;
  const parser = new SseParser();
  parser.lastEventId = options.lastEventId ?? null;
  let failures = 0;
  let refreshed = false;

  while (!signal.aborted) {
    options.onStatus?.({ kind: "connecting", attempt: failures + 1 });
    let reason: string;
    try {
      const ended = await readOnce();
      if (ended) {
        options.onStatus?.({ kind: "ended" });
        return { outcome: "ended", lastEventId: parser.lastEventId };
      }
      reason = "the connection closed before the run's last event";
    } catch (error) {
      if (signal.aborted) break;
      if (error instanceof ApiError && error.status === 401 && !refreshed && options.refresh) {
        refreshed = true;
        if (await options.refresh()) continue;
      }
      if (error instanceof ApiError && error.status >= 400 && error.status < 500 && error.status !== 408 && error.status !== 429) {
        throw error;
      }
      reason = error instanceof Error ? error.message : String(error);
    }
    if (signal.aborted) break;
    failures++;
    const delayMs = parser.retryMs !== null && failures === 1 ? parser.retryMs : backoffDelay(failures, options.backoff, options.random);
    options.onStatus?.({ kind: "reconnecting", attempt: failures, delayMs, reason });
    await sleep(delayMs, signal);
  }
  return { outcome: "aborted", lastEventId: parser.lastEventId };

  /** One connection: true when the server ended the stream after its final message. */
  async function readOnce(): Promise<boolean> {
    const headers: Record<string, string> = { Accept: "text/event-stream", "Cache-Control": "no-cache" };
    const token = await options.accessToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (parser.lastEventId) headers["Last-Event-ID"] = parser.lastEventId;
    const connection = new AbortController();
    const abort = () => connection.abort();
    signal.addEventListener("abort", abort);
    let watchdog: ReturnType<typeof setTimeout> | undefined;
    let stalled = false;
    const arm = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        stalled = true;
        connection.abort();
      }, stallMs);
    };
    try {
      arm();
      let response: Response;
      try {
        response = await fetchImpl(options.url, { method: "GET", headers, signal: connection.signal, cache: "no-store" });
      } catch (error) {
        if (stalled) throw new Dropped("no answer from the server");
        if (signal.aborted) throw error;
        throw new Dropped("the server cannot be reached");
      }
      if (!response.ok) throw await errorFromResponse(response);
      if (!response.body) throw new Dropped("the response has no body");
      options.onStatus?.({ kind: "open" });
      refreshed = false;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let final = false;
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          arm();
          for (const message of parser.feed(value)) {
            failures = 0;
            final = options.isFinal ? options.isFinal(message) : false;
            options.onMessage(message);
          }
        }
      } catch (error) {
        if (signal.aborted) throw error;
        throw new Dropped(stalled ? "the stream stalled (no keepalive)" : "the connection dropped");
      } finally {
        parser.end();
      }
      return options.isFinal ? final : true;
    } finally {
      clearTimeout(watchdog);
      signal.removeEventListener("abort", abort);
    }
  }
}
