import type { RouteObject } from "react-router";
import { PipelineDetail } from "./PipelineDetail";
import { PipelineEditor } from "./PipelineEditor";
import { StreamsScreen } from "./StreamsScreen";

export const streamsRoutes: RouteObject[] = [
  { path: "streams", element: <StreamsScreen /> },
  { path: "streams/new", element: <PipelineEditor /> },
  { path: "streams/:pipelineId", element: <PipelineDetail /> },
  { path: "streams/:pipelineId/edit", element: <PipelineEditor key="edit" /> },
];
