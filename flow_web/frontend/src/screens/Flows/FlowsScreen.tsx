import { Placeholder } from "../../components/Placeholder";

export function FlowsScreen() {
  return (
    <Placeholder title="Flows">
      <p>The flows list comes next.</p>
    </Placeholder>
  );
}
