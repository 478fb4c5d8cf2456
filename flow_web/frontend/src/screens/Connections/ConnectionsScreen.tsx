import { Placeholder } from "../../components/Placeholder";

/** Data connections: create and test (secrets are never shown again). */
export function ConnectionsScreen() {
  return (
    <Placeholder title="Connections">
      <p>SQL and MongoDB data connections, with a test button, will be here.</p>
      <p className="muted">Meanwhile: GET /api/flow_automation/api/v1/connections lists them.</p>
    </Placeholder>
  );
}
