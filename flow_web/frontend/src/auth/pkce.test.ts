import { createHash, webcrypto } from "node:crypto";
import { describe, expect, it } from "vitest";
import { authorizeUrl, base64UrlEncode, challengeOf, createVerifier, readCallback } from "./pkce";

const crypto = webcrypto as unknown as Crypto;

describe("pkce", () => {
  it("computes the S256 challenge of RFC 7636's example", async () => {
    // RFC 7636, appendix B.
    const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    expect(await challengeOf(verifier, crypto)).toBe("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  });

  it("makes verifiers of allowed characters and length, different each time", () => {
    const verifier = createVerifier(crypto);
    expect(verifier).toMatch(/^[A-Za-z0-9_-]{43,128}$/);
    expect(createVerifier(crypto)).not.toBe(verifier);
  });

  it("encodes base64url without padding", () => {
    const bytes = new Uint8Array([251, 255, 191, 0]);
    expect(base64UrlEncode(bytes)).toBe(Buffer.from(bytes).toString("base64url"));
    const digest = createHash("sha256").update("x").digest();
    expect(base64UrlEncode(new Uint8Array(digest))).not.toContain("=");
  });

  it("builds the authorization URL with every PKCE parameter", () => {
    const url = new URL(
      authorizeUrl({ authorizePath: "/oauth2/authorize", clientId: "flow-web", redirectUri: "http://127.0.0.1:8080/auth/callback", state: "s1", challenge: "c1" }),
      "http://127.0.0.1:8080",
    );
    expect(url.pathname).toBe("/oauth2/authorize");
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: "code",
      client_id: "flow-web",
      redirect_uri: "http://127.0.0.1:8080/auth/callback",
      state: "s1",
      code_challenge: "c1",
      code_challenge_method: "S256",
    });
  });

  it("accepts a callback only with the state this tab sent", () => {
    expect(readCallback("?code=abc&state=s1", "s1")).toEqual({ ok: true, code: "abc" });
    expect(readCallback("?code=abc&state=evil", "s1").ok).toBe(false);
    expect(readCallback("?code=abc&state=s1", null).ok).toBe(false);
    expect(readCallback("?error=access_denied&error_description=no", "s1")).toEqual({ ok: false, error: "access_denied: no" });
    expect(readCallback("?state=s1", "s1").ok).toBe(false);
  });
});
