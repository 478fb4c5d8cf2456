import type { RouteObject } from "react-router";
import { StreamsScreen } from "./StreamsScreen";

export const streamsRoutes: RouteObject[] = [{ path: "streams", element: <StreamsScreen /> }];
