import { describe, expect, it } from "vitest";
import { ApiClient, ApiError, errorFromResponse, servicePath, type TokenSource } from "./client";

function tokens(initial: string, refreshed: string | null) {
  const state = { token: initial, refreshes: 0, expired: 0 };
  const source: TokenSource = {
    accessToken: async () => state.token,
    refresh: async () => {
      state.refreshes++;
      if (refreshed === null) return false;
      state.token = refreshed;
      return true;
    },
    expired: () => {
      state.expired++;
    },
  };
  return { state, source };
}

function recordingFetch(answer: (auth: string | null, count: number) => Response) {
  const seen: Array<{ url: string; auth: string | null; method: string; body: unknown }> = [];
  const impl = (async (url: string, init: RequestInit) => {
    const headers = init.headers as Record<string, string>;
    seen.push({ url, auth: headers.Authorization ?? null, method: String(init.method), body: init.body });
    return answer(headers.Authorization ?? null, seen.length);
  }) as unknown as typeof fetch;
  return { seen, impl };
}

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

describe("ApiClient", () => {
  it("calls the service through flow_web's proxy with the bearer token", async () => {
    const { source } = tokens("t1", null);
    const fetch = recordingFetch(() => json(200, { items: [] }));
    const client = new ApiClient(source, fetch.impl);
    expect(await client.get("flow_automation", "/api/v1/flows", { q: "sales", cursor: undefined })).toEqual({ items: [] });
    expect(fetch.seen[0]).toMatchObject({ url: "/api/flow_automation/api/v1/flows?q=sales", auth: "Bearer t1", method: "GET" });
  });

  it("refreshes once on a 401 and retries with the new token", async () => {
    const { source, state } = tokens("old", "new");
    const fetch = recordingFetch((auth) => (auth === "Bearer new" ? json(200, { ok: 1 }) : json(401, { error: { code: "unauthenticated", message: "expired" } })));
    const client = new ApiClient(source, fetch.impl);
    expect(await client.post("ecron", "/api/v1/schedules/preview", { count: 1 })).toEqual({ ok: 1 });
    expect(fetch.seen.map((s) => s.auth)).toEqual(["Bearer old", "Bearer new"]);
    expect(fetch.seen[1].body).toBe('{"count":1}');
    expect(state.refreshes).toBe(1);
    expect(state.expired).toBe(0);
  });

  it("ends the session when the refresh does not help", async () => {
    const { source, state } = tokens("old", null);
    const fetch = recordingFetch(() => json(401, { error: { code: "unauthenticated", message: "The token has expired" } }));
    const client = new ApiClient(source, fetch.impl);
    await expect(client.get("flow_automation", "/api/v1/flows")).rejects.toMatchObject({ status: 401, message: "The token has expired" });
    expect(state.expired).toBe(1);
    expect(fetch.seen).toHaveLength(1);
  });

  it("surfaces the server's error message, code and details", async () => {
    const { source } = tokens("t", null);
    const details = { errors: [{ node: "a", field: "config.code", message: "Field required" }] };
    const fetch = recordingFetch(() => json(422, { error: { code: "invalid_definition", message: "the flow has 1 problem", details } }));
    const client = new ApiClient(source, fetch.impl);
    const error = await client.put("flow_automation", "/api/v1/flows/x", {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 422, code: "invalid_definition", message: "the flow has 1 problem", details });
  });

  it("describes a response that is not JSON by its status", async () => {
    const error = await errorFromResponse(new Response("upstream broke", { status: 502, statusText: "Bad Gateway" }));
    expect(error.message).toBe("502 Bad Gateway: upstream broke");
  });

  it("reports progress while calls are pending", async () => {
    const { source } = tokens("t", null);
    const fetch = recordingFetch(() => json(200, {}));
    const client = new ApiClient(source, fetch.impl);
    const seen: number[] = [];
    client.onProgress((pending) => seen.push(pending));
    await client.get("coderunner", "/api/v1/packages");
    expect(seen).toEqual([1, 0]);
  });

  it("turns a network failure into a readable error", async () => {
    const { source } = tokens("t", null);
    const client = new ApiClient(source, (async () => {
      throw new TypeError("Failed to fetch");
    }) as unknown as typeof fetch);
    await expect(client.get("ecron", "/api/v1/jobs")).rejects.toMatchObject({ status: 0, code: "network" });
  });

  it("builds proxy paths", () => {
    expect(servicePath("stream_pipeline", "api/v1/pipelines", { a: 1, b: "" })).toBe("/api/stream_pipeline/api/v1/pipelines?a=1");
  });
});
