import { useParams } from "react-router";
import { Placeholder } from "../../components/Placeholder";

export function DesignerScreen() {
  const { flowId } = useParams();
  return (
    <Placeholder title={flowId ? `Flow ${flowId}` : "New flow"}>
      <p>The designer comes next.</p>
    </Placeholder>
  );
}
