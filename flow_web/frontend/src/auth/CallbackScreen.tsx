import { useEffect, useState } from "react";
import { Link, useNavigate } from "react-router";
import { useServices } from "../app/services";
import { Spinner } from "../components/Spinner";
import { errorMessage } from "../api/client";

// One redemption per callback URL, even when React runs effects twice (StrictMode).
const redemptions = new Map<string, Promise<string>>();

/** /auth/callback: redeem the authorization code, then go back where the sign-in started. */
export function CallbackScreen() {
  const { session } = useServices();
  const navigate = useNavigate();
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const search = window.location.search;
    let redemption = redemptions.get(search);
    if (!redemption) {
      redemption = session.completeSignIn(search);
      redemptions.set(search, redemption);
    }
    let current = true;
    redemption
      .then((returnTo) => current && navigate(returnTo === "/auth/callback" ? "/" : returnTo, { replace: true }))
      .catch((e: unknown) => current && setError(errorMessage(e)));
    return () => {
      current = false;
    };
  }, [session, navigate]);
  return (
    <div className="center-page">
      {error ? (
        <div className="card narrow">
          <h1>Sign-in failed</h1>
          <p className="error-box">{error}</p>
          <Link className="button primary" to="/">
            Sign in again
          </Link>
        </div>
      ) : (
        <Spinner label="Signing in…" />
      )}
    </div>
  );
}
