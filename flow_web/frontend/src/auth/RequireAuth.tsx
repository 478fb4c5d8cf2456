import { useEffect, useState, type ReactNode } from "react";
import { useLocation } from "react-router";
import { Spinner } from "../components/Spinner";
import { errorMessage } from "../api/client";
import { useAuth } from "./AuthProvider";

/** Its children when signed in; otherwise off to the sign-in page, coming back here afterwards. */
export function RequireAuth({ children }: { children: ReactNode }) {
  const { tokens, signIn } = useAuth();
  const location = useLocation();
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!tokens) signIn(`${location.pathname}${location.search}`).catch((e: unknown) => setError(errorMessage(e)));
  }, [tokens, signIn, location.pathname, location.search]);
  if (tokens) return <>{children}</>;
  return (
    <div className="center-page">
      {error ? <div className="error-box">Cannot start the sign-in: {error}</div> : <Spinner label="Redirecting to sign-in…" />}
    </div>
  );
}
