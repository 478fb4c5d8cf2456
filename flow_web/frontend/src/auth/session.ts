/**
 * The signed-in session: tokens in sessionStorage (one tab, gone with it),
 * the PKCE sign-in, silent refresh, and sign-out.
 *
 * Every call to a service asks `accessToken()`, which refreshes first when the
 * token expires within REFRESH_MARGIN_MS; a 401 despite that asks `refresh()`
 * once more (lib/api/client.ts). Concurrent refreshes share one request: a
 * refresh token may be rotated on use, so a second parallel redemption would fail.
 */
import { parseScope } from "./scopes";
import { CALLBACK_PATH, CLIENT_ID, authorizeUrl, challengeOf, createVerifier, randomToken, readCallback } from "./pkce";

export const TOKENS_KEY = "dataflow.tokens";
export const PENDING_KEY = "dataflow.signin";
export const REFRESH_MARGIN_MS = 60_000;

export interface Tokens {
  accessToken: string;
  refreshToken: string | null;
  /** Epoch milliseconds. */
  expiresAt: number;
  scopes: string[];
}

interface PendingSignIn {
  state: string;
  verifier: string;
  returnTo: string;
  redirectUri: string;
}

export interface TokenResponse {
  access_token: string;
  refresh_token?: string;
  expires_in?: number;
  scope?: string;
  token_type?: string;
}

export class SignInError extends Error {}

export interface SessionOptions {
  storage: Storage;
  fetch: typeof fetch;
  origin: string;
  now?: () => number;
  crypto?: Crypto;
  /** Where the authorization server is reached; flow_web proxies /oauth2 to flow_automation. */
  oauthBase?: string;
}

type Listener = (tokens: Tokens | null) => void;

export class AuthSession {
  private tokens: Tokens | null;
  private refreshing: Promise<boolean> | null = null;
  private readonly listeners = new Set<Listener>();
  private readonly now: () => number;
  private readonly oauthBase: string;

  constructor(private readonly options: SessionOptions) {
    this.now = options.now ?? (() => Date.now());
    this.oauthBase = options.oauthBase ?? "/oauth2";
    this.tokens = this.load();
  }

  get current(): Tokens | null {
    return this.tokens;
  }

  get redirectUri(): string {
    return `${this.options.origin}${CALLBACK_PATH}`;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private load(): Tokens | null {
    try {
      const raw = this.options.storage.getItem(TOKENS_KEY);
      const parsed = raw ? (JSON.parse(raw) as Tokens) : null;
      return parsed && typeof parsed.accessToken === "string" ? parsed : null;
    } catch {
      return null;
    }
  }

  private store(tokens: Tokens | null): void {
    this.tokens = tokens;
    if (tokens) this.options.storage.setItem(TOKENS_KEY, JSON.stringify(tokens));
    else this.options.storage.removeItem(TOKENS_KEY);
    for (const listener of this.listeners) listener(tokens);
  }

  private fromResponse(body: TokenResponse, previous: Tokens | null): Tokens {
    return {
      accessToken: body.access_token,
      refreshToken: body.refresh_token ?? previous?.refreshToken ?? null,
      expiresAt: this.now() + (body.expires_in ?? 3600) * 1000,
      scopes: body.scope !== undefined ? parseScope(body.scope) : (previous?.scopes ?? []),
    };
  }

  /** Start a sign-in: remember verifier and state for the callback, return the authorization URL. */
  async beginSignIn(returnTo: string): Promise<string> {
    const crypto = this.options.crypto ?? globalThis.crypto;
    const pending: PendingSignIn = {
      state: randomToken(24, crypto),
      verifier: createVerifier(crypto),
      returnTo: returnTo.startsWith("/") && !returnTo.startsWith("//") ? returnTo : "/",
      redirectUri: this.redirectUri,
    };
    this.options.storage.setItem(PENDING_KEY, JSON.stringify(pending));
    return authorizeUrl({
      authorizePath: `${this.oauthBase}/authorize`,
      clientId: CLIENT_ID,
      redirectUri: pending.redirectUri,
      state: pending.state,
      challenge: await challengeOf(pending.verifier, crypto),
    });
  }

  /** Finish a sign-in from the callback's query string; returns the path to go back to. */
  async completeSignIn(search: string): Promise<string> {
    const raw = this.options.storage.getItem(PENDING_KEY);
    const pending = raw ? (JSON.parse(raw) as PendingSignIn) : null;
    const result = readCallback(search, pending?.state ?? null);
    if (!result.ok) throw new SignInError(result.error);
    this.options.storage.removeItem(PENDING_KEY);
    const body = await this.tokenRequest({
      grant_type: "authorization_code",
      code: result.code,
      redirect_uri: pending!.redirectUri,
      client_id: CLIENT_ID,
      code_verifier: pending!.verifier,
    });
    this.store(this.fromResponse(body, null));
    return pending!.returnTo;
  }

  private async tokenRequest(form: Record<string, string>): Promise<TokenResponse> {
    let response: Response;
    try {
      response = await this.options.fetch(`${this.oauthBase}/token`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
        body: new URLSearchParams(form).toString(),
      });
    } catch {
      throw new SignInError("The sign-in service cannot be reached; check that flow_automation is running");
    }
    const text = await response.text();
    let body: Record<string, unknown> = {};
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      // not JSON: reported below with the status
    }
    if (!response.ok || typeof body.access_token !== "string") {
      const nested = body.error as { message?: string } | string | undefined;
      const message =
        (typeof body.error_description === "string" && body.error_description) ||
        (typeof nested === "object" && nested?.message) ||
        (typeof nested === "string" && nested) ||
        `the token endpoint answered ${response.status}`;
      throw new SignInError(message);
    }
    return body as unknown as TokenResponse;
  }

  /** Whether the access token expires within the refresh margin. */
  expiresSoon(): boolean {
    return this.tokens !== null && this.tokens.expiresAt - this.now() <= REFRESH_MARGIN_MS;
  }

  /** Milliseconds until a refresh is due (0 when it is due now), or null without a session. */
  refreshDelay(): number | null {
    if (!this.tokens) return null;
    return Math.max(0, this.tokens.expiresAt - this.now() - REFRESH_MARGIN_MS);
  }

  /** Redeem the refresh token; false (and signed out) when there is none or it is refused. */
  refresh(): Promise<boolean> {
    if (this.refreshing) return this.refreshing;
    const previous = this.tokens;
    if (!previous?.refreshToken) return Promise.resolve(false);
    this.refreshing = this.tokenRequest({
      grant_type: "refresh_token",
      refresh_token: previous.refreshToken,
      client_id: CLIENT_ID,
    })
      .then((body) => {
        this.store(this.fromResponse(body, previous));
        return true;
      })
      .catch(() => {
        this.store(null);
        return false;
      })
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  /** A current access token, refreshed first when it is about to expire; null when signed out. */
  async accessToken(): Promise<string | null> {
    if (this.tokens && this.expiresSoon() && this.tokens.refreshToken) await this.refresh();
    return this.tokens?.accessToken ?? null;
  }

  /** Revoke the tokens at the server (best effort) and forget them. */
  async signOut(): Promise<void> {
    const tokens = this.tokens;
    this.store(null);
    if (!tokens) return;
    const revoke = async (token: string, hint: string) => {
      try {
        await this.options.fetch(`${this.oauthBase}/revoke`, {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ token, token_type_hint: hint, client_id: CLIENT_ID }).toString(),
        });
      } catch {
        // Signed out locally either way; the token expires on its own.
      }
    };
    if (tokens.refreshToken) await revoke(tokens.refreshToken, "refresh_token");
    await revoke(tokens.accessToken, "access_token");
  }

  /** Forget the session without calling the server (its tokens were refused). */
  drop(): void {
    this.store(null);
  }
}
