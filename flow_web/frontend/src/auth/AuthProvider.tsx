/**
 * Who is signed in, what they may do, and the session's upkeep: the access
 * token is refreshed shortly before it expires (a timer), and the user's name
 * and role come from flow_automation's GET /api/v1/whoami.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { useServices } from "../app/services";
import type { WhoAmI } from "../api/types";
import { permissionsOf, type Permissions } from "./scopes";
import type { Tokens } from "./session";

export interface AuthState {
  tokens: Tokens | null;
  /** The signed-in user's name and role; null until GET /api/v1/whoami answered. */
  user: (WhoAmI & { role?: string | null }) | null;
  scopes: string[];
  can: Permissions;
  signIn(returnTo?: string): Promise<void>;
  signOut(): Promise<void>;
}

const AuthContext = createContext<AuthState | null>(null);

export function useAuth(): AuthState {
  const state = useContext(AuthContext);
  if (!state) throw new Error("useAuth() outside <AuthProvider>");
  return state;
}

/** What the user may do (a viewer sees no edit or run buttons). */
export function usePermissions(): Permissions {
  return useAuth().can;
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const { session, api } = useServices();
  const [tokens, setTokens] = useState<Tokens | null>(session.current);
  const [user, setUser] = useState<AuthState["user"]>(null);

  useEffect(() => session.subscribe(setTokens), [session]);

  // Refresh a little before the access token expires, so no call ever meets an expired token.
  useEffect(() => {
    const delay = session.refreshDelay();
    if (delay === null || !tokens?.refreshToken) return;
    const timer = window.setTimeout(() => void session.refresh(), Math.min(delay, 2 ** 31 - 1));
    return () => window.clearTimeout(timer);
  }, [session, tokens]);

  const signedIn = tokens !== null;
  useEffect(() => {
    if (!signedIn) {
      setUser(null);
      return;
    }
    let current = true;
    api
      .get<WhoAmI & { role?: string | null }>("flow_automation", "/api/v1/whoami")
      .then((me) => current && setUser(me))
      .catch(() => current && setUser(null));
    return () => {
      current = false;
    };
  }, [api, signedIn]);

  const signIn = useCallback(
    async (returnTo = `${window.location.pathname}${window.location.search}`) => {
      window.location.assign(await session.beginSignIn(returnTo));
    },
    [session],
  );
  const signOut = useCallback(() => session.signOut(), [session]);

  const value = useMemo<AuthState>(() => {
    const scopes = user?.scopes ?? tokens?.scopes ?? [];
    return { tokens, user, scopes, can: permissionsOf(scopes), signIn, signOut };
  }, [tokens, user, signIn, signOut]);

  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}
