import type { RouteObject } from "react-router";
import { FlowsScreen } from "./FlowsScreen";

export const flowsRoutes: RouteObject[] = [{ path: "flows", element: <FlowsScreen /> }];
