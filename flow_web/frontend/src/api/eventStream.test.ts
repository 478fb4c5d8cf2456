import { describe, expect, it } from "vitest";
import { backoffDelay, followEventStream, type StreamStatus } from "./eventStream";

/** A response whose body yields `chunks`, then ends (or errors with `fail`). */
function streamResponse(chunks: string[], fail = false): Response {
  const encoder = new TextEncoder();
  const pending = [...chunks];
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = pending.shift();
      if (chunk !== undefined) controller.enqueue(encoder.encode(chunk));
      else if (fail) controller.error(new TypeError("network error"));
      else controller.close();
    },
  });
  return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
}

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

function scripted(answers: Array<() => Response>) {
  const requests: Array<{ url: string; headers: Record<string, string> }> = [];
  const impl = (async (url: string, init: RequestInit) => {
    requests.push({ url, headers: init.headers as Record<string, string> });
    const next = answers.shift();
    if (!next) throw new Error("no more answers scripted");
    return next();
  }) as unknown as typeof fetch;
  return { requests, impl };
}

const event = (id: number, kind: string, state: string) => `id: ${id}\nevent: ${kind}\ndata: {"kind":"${kind}","state":"${state}"}\n\n`;
const isFinal = (message: { data: string }) => {
  const data = JSON.parse(message.data) as { kind: string; state: string };
  return data.kind === "run" && ["succeeded", "failed", "canceled"].includes(data.state);
};

describe("followEventStream", () => {
  it("sends the bearer token, delivers messages and ends after the final one", async () => {
    const fetch = scripted([() => streamResponse([": connected\n\n", event(1, "task", "running"), event(2, "run", "succeeded")])]);
    const seen: string[] = [];
    const result = await followEventStream({
      url: "/api/flow_automation/api/v1/runs/r1/events",
      accessToken: async () => "t1",
      onMessage: (m) => seen.push(`${m.id}:${m.event}`),
      isFinal,
      signal: new AbortController().signal,
      fetch: fetch.impl,
    });
    expect(result).toEqual({ outcome: "ended", lastEventId: "2" });
    expect(seen).toEqual(["1:task", "2:run"]);
    expect(fetch.requests[0].headers).toMatchObject({ Authorization: "Bearer t1", Accept: "text/event-stream" });
    expect(fetch.requests[0].headers["Last-Event-ID"]).toBeUndefined();
  });

  it("resumes with Last-Event-ID after a dropped connection, backing off between tries", async () => {
    const fetch = scripted([
      () => streamResponse([event(10, "task", "running")], true),
      () => {
        throw new TypeError("Failed to fetch");
      },
      () => json(502, { error: { code: "bad_gateway", message: "flow_automation cannot be reached" } }),
      () => streamResponse([event(11, "task", "succeeded")]),
      () => streamResponse([event(12, "run", "succeeded")]),
    ]);
    const seen: string[] = [];
    const sleeps: number[] = [];
    const statuses: StreamStatus[] = [];
    const result = await followEventStream({
      url: "/events",
      accessToken: async () => "t",
      lastEventId: "9",
      onMessage: (m) => seen.push(m.id ?? ""),
      onStatus: (s) => statuses.push(s),
      isFinal,
      signal: new AbortController().signal,
      fetch: fetch.impl,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      random: () => 0,
      backoff: { initialMs: 100, factor: 2, maxMs: 1000 },
    });
    expect(result.outcome).toBe("ended");
    expect(seen).toEqual(["10", "11", "12"]);
    expect(fetch.requests.map((r) => r.headers["Last-Event-ID"])).toEqual(["9", "10", "10", "10", "11"]);
    // failures in a row back off exponentially; a delivered message resets the count
    expect(sleeps).toEqual([100, 200, 400, 100]);
    const reasons = statuses.filter((s) => s.kind === "reconnecting").map((s) => (s.kind === "reconnecting" ? s.reason : ""));
    expect(reasons[2]).toBe("flow_automation cannot be reached");
    expect(reasons[3]).toBe("the connection closed before the run's last event");
  });

  it("refreshes the token once on a 401", async () => {
    let token = "old";
    const fetch = scripted([
      () => json(401, { error: { code: "unauthenticated", message: "expired" } }),
      () => streamResponse([event(1, "run", "failed")]),
    ]);
    const result = await followEventStream({
      url: "/events",
      accessToken: async () => token,
      refresh: async () => {
        token = "new";
        return true;
      },
      onMessage: () => undefined,
      isFinal,
      signal: new AbortController().signal,
      fetch: fetch.impl,
    });
    expect(result.outcome).toBe("ended");
    expect(fetch.requests.map((r) => r.headers.Authorization)).toEqual(["Bearer old", "Bearer new"]);
  });

  it("gives up on a client error with the server's message", async () => {
    const fetch = scripted([() => json(404, { error: { code: "not_found", message: "No run by the id of 'x' was found" } })]);
    await expect(
      followEventStream({ url: "/events", accessToken: async () => "t", onMessage: () => undefined, signal: new AbortController().signal, fetch: fetch.impl }),
    ).rejects.toMatchObject({ status: 404, message: "No run by the id of 'x' was found" });
  });

  it("stops when aborted while waiting to reconnect", async () => {
    const controller = new AbortController();
    const fetch = scripted([() => streamResponse([event(3, "task", "running")])]);
    const result = await followEventStream({
      url: "/events",
      accessToken: async () => null,
      onMessage: () => undefined,
      isFinal,
      signal: controller.signal,
      fetch: fetch.impl,
      sleep: async () => controller.abort(),
    });
    expect(result).toEqual({ outcome: "aborted", lastEventId: "3" });
    expect(fetch.requests).toHaveLength(1);
  });

  it("reconnects when the stream stalls without a keepalive", async () => {
    const controller = new AbortController();
    let calls = 0;
    const impl = (async (_url: string, init: RequestInit) => {
      calls++;
      if (calls === 2) return streamResponse([event(5, "run", "succeeded")]);
      // the first connection sends one event, then nothing at all until it is aborted
      const encoder = new TextEncoder();
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(encoder.encode(event(4, "task", "running")));
          init.signal?.addEventListener("abort", () => c.error(new DOMException("aborted", "AbortError")));
        },
      });
      return new Response(body, { status: 200 });
    }) as unknown as typeof fetch;
    const result = await followEventStream({
      url: "/events",
      accessToken: async () => "t",
      onMessage: () => undefined,
      isFinal,
      signal: controller.signal,
      fetch: impl,
      stallMs: 30,
      sleep: async () => undefined,
    });
    expect(result).toEqual({ outcome: "ended", lastEventId: "5" });
    expect(calls).toBe(2);
  });
});

describe("backoffDelay", () => {
  it("grows exponentially up to the cap, with bounded jitter", () => {
    const options = { initialMs: 500, factor: 2, maxMs: 4000 };
    expect([1, 2, 3, 4, 5, 9].map((n) => backoffDelay(n, options, () => 0))).toEqual([500, 1000, 2000, 4000, 4000, 4000]);
    expect(backoffDelay(1, options, () => 1)).toBe(600);
  });
});
