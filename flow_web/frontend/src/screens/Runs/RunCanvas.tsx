/**
 * The run on the flow's canvas, read-only: one node per task where the
 * designer placed it (the run's pinned version's `ui.positions`, laid out
 * when it has none), coloured by state, with attempts and duration; edges from
 * each task's upstream tasks, animated while data is on its way. Clicking a
 * node selects its task.
 */
import {
  Background,
  Controls,
  type Edge,
  Handle,
  type Node,
  type NodeChange,
  type NodeProps,
  Position,
  ReactFlow,
  type ReactFlowInstance,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { memo, useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { TaskRun } from "../../api/runs";
import { layeredLayout, type Point } from "../../lib/layout";
import { stateStyle } from "../../lib/runStates";
import { TaskDuration } from "./StateBadge";

export type RunNodeData = { task: TaskRun; title: string };
export type RunCanvasNode = Node<RunNodeData, "runNode">;

const NODE_WIDTH = 200;
const NODE_HEIGHT = 84;

function RunNodeViewImpl({ data, selected }: NodeProps<RunCanvasNode>) {
  const { task, title } = data;
  const style = stateStyle(task.state);
  return (
    <div
      className={`run-node state-${task.state}${selected ? " selected" : ""}${style.active ? " active" : ""}`}
      data-testid={`run-node-${task.node_id}`}
      data-state={task.state}
      data-attempts={task.attempts}
      style={{ borderColor: style.stroke }}
      title={`${task.node_id}: ${style.label}`}
    >
      <Handle type="target" position={Position.Left} isConnectable={false} className="run-node-handle" />
      <div className="run-node-head" style={{ background: style.fill }}>
        <span className="run-node-title">{title}</span>
        <span className="run-node-state">{style.label}</span>
      </div>
      <div className="run-node-body">
        <span className="run-node-type">{task.type}</span>
        <span className="run-node-meta">
          <span title="attempts" data-testid={`run-node-attempts-${task.node_id}`}>
            {task.attempts > 0 ? `attempt ${task.attempts}` : "not started"}
          </span>
          <span data-testid={`run-node-duration-${task.node_id}`}>
            <TaskDuration task={task} />
          </span>
        </span>
        {task.cached && <span className="run-node-cached">cached</span>}
      </div>
      <Handle type="source" position={Position.Right} isConnectable={false} className="run-node-handle" />
    </div>
  );
}

const RunNodeView = memo(RunNodeViewImpl);
const NODE_TYPES = { runNode: RunNodeView };

export interface RunCanvasProps {
  tasks: TaskRun[];
  /** Positions and titles from the flow version's definition; empty when it cannot be read. */
  positions: Record<string, Point>;
  titles: Record<string, string>;
  selected: string | null;
  onSelect: (nodeId: string | null) => void;
}

export function RunCanvas({ tasks, positions, titles, selected, onSelect }: RunCanvasProps) {
  const instance = useRef<ReactFlowInstance<RunCanvasNode, Edge> | null>(null);
  // The nodes are controlled: React Flow's measurements come back through onNodesChange and must be
  // passed in again, or every new state would hide the nodes until they are measured once more.
  const [measured, setMeasured] = useState<Record<string, { width: number; height: number }>>({});
  const onNodesChange = useCallback((changes: NodeChange<RunCanvasNode>[]) => {
    const sizes: Record<string, { width: number; height: number }> = {};
    for (const change of changes) if (change.type === "dimensions" && change.dimensions) sizes[change.id] = change.dimensions;
    if (Object.keys(sizes).length > 0) setMeasured((current) => ({ ...current, ...sizes }));
  }, []);
  const layout = useMemo(() => {
    const ids = tasks.map((task) => task.node_id);
    if (ids.every((id) => positions[id])) return positions;
    const edges = tasks.flatMap((task) => task.upstream.map((up) => ({ source: up, target: task.node_id })));
    return layeredLayout(ids, edges, { nodeWidth: NODE_WIDTH, nodeHeight: NODE_HEIGHT, layerGap: 70, nodeGap: 30 });
  }, [tasks, positions]);

  const nodes = useMemo<RunCanvasNode[]>(
    () =>
      tasks.map((task) => ({
        id: task.node_id,
        type: "runNode",
        position: layout[task.node_id] ?? { x: 0, y: 0 },
        selected: task.node_id === selected,
        measured: measured[task.node_id],
        draggable: false,
        connectable: false,
        data: { task, title: titles[task.node_id] || task.node_id },
      })),
    [tasks, layout, titles, selected, measured],
  );

  const edges = useMemo<Edge[]>(() => {
    const byId = new Map(tasks.map((task) => [task.node_id, task]));
    return tasks.flatMap((task) =>
      task.upstream
        .filter((up) => byId.has(up))
        .map((up) => {
          const source = byId.get(up)!;
          const flowing = source.state === "succeeded" && (task.state === "running" || task.state === "ready" || task.state === "retrying");
          return {
            id: `${up}->${task.node_id}`,
            source: up,
            target: task.node_id,
            animated: flowing,
            focusable: false,
            selectable: false,
            style: { stroke: source.state === "succeeded" ? stateStyle("succeeded").fill : "#94a3b8", strokeWidth: 2 },
          };
        }),
    );
  }, [tasks]);

  // fit the whole flow in view once every node has its size (and again if the layout changes)
  const allMeasured = tasks.every((task) => measured[task.node_id]);
  useEffect(() => {
    if (!allMeasured) return;
    const timer = window.setTimeout(() => void instance.current?.fitView({ padding: 0.2, maxZoom: 1.2 }), 30);
    return () => window.clearTimeout(timer);
  }, [allMeasured, layout]);

  return (
    <ReactFlow<RunCanvasNode, Edge>
      nodes={nodes}
      edges={edges}
      nodeTypes={NODE_TYPES}
      onNodesChange={onNodesChange}
      onInit={(flow) => {
        instance.current = flow;
        void flow.fitView({ padding: 0.2, maxZoom: 1.2 });
      }}
      nodesDraggable={false}
      nodesConnectable={false}
      elementsSelectable
      edgesFocusable={false}
      deleteKeyCode={null}
      onNodeClick={(_event, node) => onSelect(node.id)}
      onPaneClick={() => onSelect(null)}
      fitView
      minZoom={0.2}
      maxZoom={2}
    >
      <Background gap={20} size={1} />
      <Controls showInteractive={false} />
    </ReactFlow>
  );
}
