/**
 * The route table. Each screen folder exports its own routes
 * (`src/screens/<Screen>/routes.tsx`), so a screen is added or changed in its
 * own files; this module only puts them under the signed-in layout.
 */
import { Navigate, createBrowserRouter, type RouteObject } from "react-router";
import { CallbackScreen } from "../auth/CallbackScreen";
import { RequireAuth } from "../auth/RequireAuth";
import { SignedOutScreen } from "../auth/SignedOutScreen";
import { connectionsRoutes } from "../screens/Connections/routes";
import { cronRoutes } from "../screens/Cron/routes";
import { flowsRoutes } from "../screens/Flows/routes";
import { NotFoundScreen } from "../screens/NotFoundScreen";
import { runsRoutes } from "../screens/Runs/routes";
import { streamsRoutes } from "../screens/Streams/routes";
import { Layout } from "./Layout";
import { RouteError } from "./RouteError";

export const signedInRoutes: RouteObject[] = [
  { index: true, element: <Navigate to="/flows" replace /> },
  ...flowsRoutes,
  ...runsRoutes,
  ...cronRoutes,
  ...streamsRoutes,
  ...connectionsRoutes,
  { path: "*", element: <NotFoundScreen /> },
];

export function createRouter() {
  return createBrowserRouter([
    { path: "/auth/callback", element: <CallbackScreen />, errorElement: <RouteError /> },
    { path: "/signed-out", element: <SignedOutScreen />, errorElement: <RouteError /> },
    {
      path: "/",
      element: (
        <RequireAuth>
          <Layout />
        </RequireAuth>
      ),
      errorElement: <RouteError />,
      children: signedInRoutes,
    },
  ]);
}
