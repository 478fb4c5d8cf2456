import type { RouteObject } from "react-router";
import { CronScreen } from "./CronScreen";

export const cronRoutes: RouteObject[] = [{ path: "cron", element: <CronScreen /> }];
