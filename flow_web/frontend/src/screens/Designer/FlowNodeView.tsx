/**
 * A node on the canvas: its title and type, one handle per port (inputs on
 * the left, outputs on the right, each with its kind), a "+ input" handle for
 * types that take inputs under any name, order-only handles at the top and
 * bottom, and a badge when the last save found problems with it.
 */
import { Handle, type Node, type NodeProps, Position } from "@xyflow/react";
import { memo } from "react";
import type { FlowProblem, NodeTypeInfo } from "../../api/types";
import { type DesignNode, inputPorts, NEW_INPUT, ORDER_IN, ORDER_OUT, outputPorts } from "../../lib/flowDoc";

export type FlowNodeData = {
  node: DesignNode;
  nodeType: NodeTypeInfo | undefined;
  problems: FlowProblem[];
  readOnly: boolean;
};

export type FlowCanvasNode = Node<FlowNodeData, "flowNode">;

const CATEGORY_COLORS: Record<string, string> = {
  Code: "#7c3aed",
  Control: "#64748b",
  Transform: "#0891b2",
  SQL: "#2563eb",
  MongoDB: "#16a34a",
  HTTP: "#ea580c",
  Kafka: "#be185d",
  Documents: "#a16207",
};

export function categoryColor(category: string | undefined): string {
  return (category && CATEGORY_COLORS[category]) || "#475569";
}

function FlowNodeViewImpl({ data, selected }: NodeProps<FlowCanvasNode>) {
  const { node, nodeType, problems, readOnly } = data;
  const inputs = inputPorts(node, nodeType);
  const outputs = outputPorts(node, nodeType);
  const color = categoryColor(nodeType?.category);
  const classes = ["flow-node", selected ? "selected" : "", problems.length > 0 ? "has-problems" : "", nodeType ? "" : "unknown-type"];
  return (
    <div className={classes.join(" ")} data-testid={`node-${node.id}`} style={{ borderTopColor: color }}>
      <Handle type="target" position={Position.Top} id={ORDER_IN} className="order-handle" title="runs after (order only)" />
      <div className="flow-node-head">
        <span className="flow-node-title">{node.title || node.id}</span>
        <span className="flow-node-type" style={{ color }}>
          {nodeType?.title ?? node.type}
        </span>
      </div>
      <div className="flow-node-ports">
        <div className="ports inputs">
          {inputs.map((port) => (
            <div key={port.name} className="port in" title={port.description || port.name}>
              <Handle type="target" position={Position.Left} id={`in:${port.name}`} data-testid={`in-${node.id}-${port.name}`} className={`kind-${port.kind}`} />
              <span className="port-name">
                {port.name}
                {port.required && <span className="required">*</span>}
              </span>
              <span className="port-kind">{port.kind}</span>
            </div>
          ))}
          {nodeType?.extra_inputs && !readOnly && (
            <div className="port in new-input" title="connect an output here to add an input">
              <Handle type="target" position={Position.Left} id={`in:${NEW_INPUT}`} data-testid={`in-${node.id}-new`} />
              <span className="port-name muted">+ input</span>
            </div>
          )}
        </div>
        <div className="ports outputs">
          {outputs.map((port) => (
            <div key={port.name} className="port out" title={port.description || port.name}>
              <span className="port-kind">{port.kind}</span>
              <span className="port-name">{port.name}</span>
              <Handle type="source" position={Position.Right} id={`out:${port.name}`} data-testid={`out-${node.id}-${port.name}`} className={`kind-${port.kind}`} />
            </div>
          ))}
        </div>
      </div>
      {problems.length > 0 && (
        <div className="flow-node-problems" data-testid={`problems-${node.id}`} title={problems.map((p) => `${p.field}: ${p.message}`).join("\n")}>
          ⚠ {problems[0].field}: {problems[0].message}
          {problems.length > 1 && ` (+${problems.length - 1} more)`}
        </div>
      )}
      <Handle type="source" position={Position.Bottom} id={ORDER_OUT} className="order-handle" title="then run (order only)" />
    </div>
  );
}

export const FlowNodeView = memo(FlowNodeViewImpl);
