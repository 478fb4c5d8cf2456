/**
 * OAuth2 authorization code with PKCE (RFC 7636), the browser half.
 *
 * The UI is a public client (`flow-web`, no secret): it proves that the code
 * it redeems is the one it asked for with a random verifier whose SHA-256
 * (the challenge) went along with the authorization request. `state` ties
 * the callback to the request this tab made, so a forged redirect is refused.
 */

export const CLIENT_ID = "flow-web";
export const CALLBACK_PATH = "/auth/callback";

export function base64UrlEncode(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A random string of URL-safe characters from `byteLength` random bytes (32 bytes: 43 characters). */
export function randomToken(byteLength = 32, crypto: Crypto = globalThis.crypto): string {
  const bytes = new Uint8Array(byteLength);
  crypto.getRandomValues(bytes);
  return base64UrlEncode(bytes);
}

/** A code verifier: 43 to 128 characters of [A-Za-z0-9-._~] (RFC 7636 section 4.1). */
export function createVerifier(crypto: Crypto = globalThis.crypto): string {
  return randomToken(48, crypto);
}

/** The S256 challenge of a verifier: BASE64URL(SHA256(ASCII(verifier))). */
export async function challengeOf(verifier: string, crypto: Crypto = globalThis.crypto): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64UrlEncode(new Uint8Array(digest));
}

export interface AuthorizeRequest {
  authorizePath: string;
  clientId: string;
  redirectUri: string;
  state: string;
  challenge: string;
  scope?: string;
}

export function authorizeUrl(request: AuthorizeRequest): string {
  const query = new URLSearchParams({
    response_type: "code",
    client_id: request.clientId,
    redirect_uri: request.redirectUri,
    state: request.state,
    code_challenge: request.challenge,
    code_challenge_method: "S256",
  });
  if (request.scope) query.set("scope", request.scope);
  return `${request.authorizePath}?${query.toString()}`;
}

export type CallbackResult = { ok: true; code: string } | { ok: false; error: string };

/** The code from the callback's query string, once `state` matches the one this tab sent. */
export function readCallback(search: string, expectedState: string | null): CallbackResult {
  const query = new URLSearchParams(search);
  const error = query.get("error");
  if (error) {
    const description = query.get("error_description");
    return { ok: false, error: description ? `${error}: ${description}` : error };
  }
  const code = query.get("code");
  if (!code) return { ok: false, error: "The sign-in answer has no authorization code" };
  if (!expectedState) return { ok: false, error: "This tab did not start a sign-in (or it expired); sign in again" };
  if (query.get("state") !== expectedState) {
    return { ok: false, error: "The sign-in answer does not belong to this tab's request (state mismatch); sign in again" };
  }
  return { ok: true, code };
}
