import { webcrypto } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AuthSession, PENDING_KEY, REFRESH_MARGIN_MS, TOKENS_KEY } from "./session";

class MemoryStorage implements Storage {
  private items = new Map<string, string>();
  get length() {
    return this.items.size;
  }
  clear() {
    this.items.clear();
  }
  getItem(key: string) {
    return this.items.get(key) ?? null;
  }
  key(index: number) {
    return [...this.items.keys()][index] ?? null;
  }
  removeItem(key: string) {
    this.items.delete(key);
  }
  setItem(key: string, value: string) {
    this.items.set(key, value);
  }
}

interface Call {
  url: string;
  form: Record<string, string>;
}

/** A token endpoint answering from a script, recording each form it receives. */
function fakeServer(answers: Array<{ status: number; body: unknown }>) {
  const calls: Call[] = [];
  const fetchImpl = (async (url: string, init: RequestInit) => {
    calls.push({ url, form: Object.fromEntries(new URLSearchParams(String(init.body))) });
    const answer = answers.shift() ?? { status: 200, body: {} };
    return new Response(JSON.stringify(answer.body), { status: answer.status });
  }) as unknown as typeof fetch;
  return { calls, fetchImpl };
}

function session(fetchImpl: typeof fetch, now = () => 1_000_000) {
  return new AuthSession({
    storage: new MemoryStorage(),
    fetch: fetchImpl,
    origin: "http://127.0.0.1:8080",
    now,
    crypto: webcrypto as unknown as Crypto,
  });
}

async function signIn(auth: AuthSession) {
  const url = new URL(await auth.beginSignIn("/flows/x"), "http://127.0.0.1:8080");
  const state = url.searchParams.get("state")!;
  return auth.completeSignIn(`?code=the-code&state=${state}`);
}

describe("AuthSession", () => {
  it("signs in with PKCE: the token request carries the verifier of the challenge it sent", async () => {
    const server = fakeServer([
      { status: 200, body: { access_token: "a1", refresh_token: "r1", expires_in: 3600, scope: "flows:read flows:write" } },
    ]);
    const auth = session(server.fetchImpl);
    const url = new URL(await auth.beginSignIn("/flows/x"), "http://127.0.0.1:8080");
    expect(url.searchParams.get("redirect_uri")).toBe("http://127.0.0.1:8080/auth/callback");
    const returnTo = await auth.completeSignIn(`?code=the-code&state=${url.searchParams.get("state")}`);
    expect(returnTo).toBe("/flows/x");
    const form = server.calls[0].form;
    expect(server.calls[0].url).toBe("/oauth2/token");
    expect(form).toMatchObject({ grant_type: "authorization_code", code: "the-code", client_id: "flow-web" });
    const digest = await webcrypto.subtle.digest("SHA-256", new TextEncoder().encode(form.code_verifier));
    expect(Buffer.from(digest).toString("base64url")).toBe(url.searchParams.get("code_challenge"));
    expect(auth.current).toEqual({ accessToken: "a1", refreshToken: "r1", expiresAt: 1_000_000 + 3_600_000, scopes: ["flows:read", "flows:write"] });
  });

  it("refuses a callback whose state is not this tab's", async () => {
    const server = fakeServer([]);
    const auth = session(server.fetchImpl);
    await auth.beginSignIn("/");
    await expect(auth.completeSignIn("?code=c&state=forged")).rejects.toThrow(/state mismatch/);
    expect(server.calls).toHaveLength(0);
  });

  it("shows the token endpoint's error description", async () => {
    const server = fakeServer([{ status: 400, body: { error: "invalid_grant", error_description: "The code has expired" } }]);
    await expect(signIn(session(server.fetchImpl))).rejects.toThrow("The code has expired");
  });

  it("refreshes before expiry, once for concurrent callers", async () => {
    let now = 1_000_000;
    const server = fakeServer([
      { status: 200, body: { access_token: "a1", refresh_token: "r1", expires_in: 3600, scope: "flows:read" } },
      { status: 200, body: { access_token: "a2", refresh_token: "r2", expires_in: 3600 } },
    ]);
    const auth = session(server.fetchImpl, () => now);
    await signIn(auth);
    expect(await auth.accessToken()).toBe("a1");
    expect(auth.refreshDelay()).toBe(3_600_000 - REFRESH_MARGIN_MS);
    now += 3_600_000 - REFRESH_MARGIN_MS + 1;
    const [first, second] = await Promise.all([auth.accessToken(), auth.accessToken()]);
    expect([first, second]).toEqual(["a2", "a2"]);
    expect(server.calls.map((c) => c.form.grant_type)).toEqual(["authorization_code", "refresh_token"]);
    expect(server.calls[1].form).toMatchObject({ refresh_token: "r1", client_id: "flow-web" });
    expect(auth.current?.scopes).toEqual(["flows:read"]);
  });

  it("ends the session when the refresh token is refused", async () => {
    const server = fakeServer([
      { status: 200, body: { access_token: "a1", refresh_token: "r1", expires_in: 3600 } },
      { status: 400, body: { error: "invalid_grant" } },
    ]);
    const auth = session(server.fetchImpl);
    await signIn(auth);
    const seen: unknown[] = [];
    auth.subscribe((tokens) => seen.push(tokens));
    expect(await auth.refresh()).toBe(false);
    expect(auth.current).toBeNull();
    expect(seen).toEqual([null]);
  });

  it("revokes both tokens on sign-out and forgets them", async () => {
    const server = fakeServer([{ status: 200, body: { access_token: "a1", refresh_token: "r1", expires_in: 3600 } }]);
    const storage = new MemoryStorage();
    const auth = new AuthSession({ storage, fetch: server.fetchImpl, origin: "http://x", crypto: webcrypto as unknown as Crypto });
    await signIn(auth);
    expect(storage.getItem(TOKENS_KEY)).not.toBeNull();
    expect(storage.getItem(PENDING_KEY)).toBeNull();
    await auth.signOut();
    expect(storage.getItem(TOKENS_KEY)).toBeNull();
    expect(server.calls.slice(1).map((c) => [c.url, c.form.token, c.form.client_id])).toEqual([
      ["/oauth2/revoke", "r1", "flow-web"],
      ["/oauth2/revoke", "a1", "flow-web"],
    ]);
  });
});
