import type { RouteObject } from "react-router";
import { CronScreen } from "./CronScreen";
import { JobDetail } from "./JobDetail";
import { JobEditor } from "./JobEditor";

export const cronRoutes: RouteObject[] = [
  { path: "cron", element: <CronScreen /> },
  { path: "cron/new", element: <JobEditor /> },
  { path: "cron/:jobId", element: <JobDetail /> },
  { path: "cron/:jobId/edit", element: <JobEditor key="edit" /> },
];
