import type { RouteObject } from "react-router";
import { ConnectionsScreen } from "./ConnectionsScreen";

export const connectionsRoutes: RouteObject[] = [{ path: "connections", element: <ConnectionsScreen /> }];
