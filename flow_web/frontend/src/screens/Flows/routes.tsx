import type { RouteObject } from "react-router";
import { DesignerScreen } from "../Designer/DesignerScreen";
import { FlowsScreen } from "./FlowsScreen";

export const flowsRoutes: RouteObject[] = [
  { path: "flows", element: <FlowsScreen /> },
  { path: "flows/new", element: <DesignerScreen /> },
  { path: "flows/:flowId", element: <DesignerScreen /> },
];
