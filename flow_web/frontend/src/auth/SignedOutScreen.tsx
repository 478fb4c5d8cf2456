import { useEffect, useState } from "react";
import { errorMessage } from "../api/client";
import { Spinner } from "../components/Spinner";
import { useAuth } from "./AuthProvider";

// One sign-out per page load, even when React runs effects twice (StrictMode).
let signingOut: Promise<void> | null = null;

/**
 * /signed-out: revokes the session's tokens (when there still is one), then
 * offers to sign in again. Sign-out happens here, outside the signed-in
 * frame, so the frame's "no session: go to sign-in" never races it.
 */
export function SignedOutScreen() {
  const { tokens, signIn, signOut } = useAuth();
  const [busy, setBusy] = useState(tokens !== null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!tokens) return;
    signingOut ??= signOut().finally(() => {
      signingOut = null;
    });
    signingOut.catch((e: unknown) => setError(errorMessage(e))).finally(() => setBusy(false));
  }, [tokens, signOut]);
  return (
    <div className="center-page">
      <div className="card narrow">
        {busy ? (
          <Spinner label="Signing out…" />
        ) : (
          <>
            <h1>Signed out</h1>
            <p>Your session has ended and its tokens were revoked.</p>
            {error && <p className="error-box">{error}</p>}
            <button type="button" className="button primary" onClick={() => void signIn("/")}>
              Sign in again
            </button>
          </>
        )}
      </div>
    </div>
  );
}
