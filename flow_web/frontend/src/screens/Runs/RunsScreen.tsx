import { Placeholder } from "../../components/Placeholder";

/** Runs: start with params, live view, logs, outputs, history, timeline. (The screen comes in its own change.) */
export function RunsScreen() {
  return (
    <Placeholder title="Runs">
      <p>Run history, live runs on the canvas, task logs and outputs will be here.</p>
      <p className="muted">Meanwhile: GET /api/flow_automation/api/v1/runs lists them.</p>
    </Placeholder>
  );
}
