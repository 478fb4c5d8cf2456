/**
 * The web UI's entry point: one session (sessionStorage) and one API client
 * for the whole app, then the router. Everything reaches a service through
 * flow_web's proxy (/api/<service>/..., /oauth2/...), so there is one origin.
 */
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { RouterProvider } from "react-router";
import { ApiClient } from "./api/client";
import { createRouter } from "./app/router";
import { ServicesContext, type AppServices } from "./app/services";
import { AuthProvider } from "./auth/AuthProvider";
import { AuthSession } from "./auth/session";
import { ToastProvider } from "./components/Toasts";
import "./styles.css";

const session = new AuthSession({
  storage: window.sessionStorage,
  fetch: (...args) => window.fetch(...args),
  origin: window.location.origin,
});
const api = new ApiClient({
  accessToken: () => session.accessToken(),
  refresh: () => session.refresh(),
  expired: () => session.drop(),
});
const services: AppServices = { session, api };
const router = createRouter();

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <ServicesContext.Provider value={services}>
      <ToastProvider>
        <AuthProvider>
          <RouterProvider router={router} />
        </AuthProvider>
      </ToastProvider>
    </ServicesContext.Provider>
  </StrictMode>,
);
