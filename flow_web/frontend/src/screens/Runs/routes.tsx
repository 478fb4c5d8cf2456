import type { RouteObject } from "react-router";
import { RunDetailScreen } from "./RunDetailScreen";
import { RunsListScreen } from "./RunsListScreen";
import { StartRunScreen } from "./StartRunScreen";

export const runsRoutes: RouteObject[] = [
  { path: "runs", element: <RunsListScreen /> },
  { path: "runs/new", element: <StartRunScreen /> },
  { path: "runs/:runId", element: <RunDetailScreen /> },
];
