import { Placeholder } from "../../components/Placeholder";

/** Stream pipelines: editor with sample preview, start and stop, live status, dead letters. */
export function StreamsScreen() {
  return (
    <Placeholder title="Streams">
      <p>Stream pipelines, their live status and dead-letter topics will be here.</p>
      <p className="muted">Meanwhile: GET /api/stream_pipeline/api/v1/pipelines lists them.</p>
    </Placeholder>
  );
}
