import type { RouteObject } from "react-router";
import { RunsScreen } from "./RunsScreen";

export const runsRoutes: RouteObject[] = [
  { path: "runs", element: <RunsScreen /> },
  { path: "runs/:runId", element: <RunsScreen /> },
];
