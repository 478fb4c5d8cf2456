/**
 * The app-wide services every screen reaches through hooks: the session
 * (sign-in state) and the API client. Created once in main.tsx.
 */
import { createContext, useContext } from "react";
import type { ApiClient } from "../api/client";
import type { AuthSession } from "../auth/session";

export interface AppServices {
  session: AuthSession;
  api: ApiClient;
}

export const ServicesContext = createContext<AppServices | null>(null);

export function useServices(): AppServices {
  const services = useContext(ServicesContext);
  if (!services) throw new Error("useServices() outside <ServicesContext.Provider>");
  return services;
}

/** The API client: `api.get("flow_automation", "/api/v1/flows")`, with the session's token. */
export function useApi(): ApiClient {
  return useServices().api;
}
