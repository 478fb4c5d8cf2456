/**
 * The canvas (React Flow), drawn from the designer's document: every change
 * it reports (a drag, a connection, a drop from the palette, a selection)
 * goes back to the store as a new document, so undo, save and the side panel
 * all see one state. A connection that joins ports of different kinds or
 * closes a cycle is refused while it is drawn, with the reason.
 */
import {
  Background,
  type Connection as FlowConnection,
  Controls,
  type Edge,
  type EdgeChange,
  type FinalConnectionState,
  MiniMap,
  type NodeChange,
  ReactFlow,
  useReactFlow,
} from "@xyflow/react";
import { type DragEvent, useCallback, useMemo, useRef, useState } from "react";
import type { FlowProblem } from "../../api/types";
import type { Selection } from "../../lib/designerState";
import { addNode, connect, type Connection, type DesignDoc, docEdges, moveNodes, type TypeIndex } from "../../lib/flowDoc";
import type { Point } from "../../lib/layout";
import { categoryColor, type FlowCanvasNode, FlowNodeView } from "./FlowNodeView";
import { NODE_TYPE_MIME } from "./Palette";

const NODE_TYPES = { flowNode: FlowNodeView };
const NO_PROBLEMS: FlowProblem[] = [];

export interface CanvasProps {
  doc: DesignDoc;
  types: TypeIndex;
  selection: Selection;
  problemsByNode: Map<string, FlowProblem[]>;
  readOnly: boolean;
  onEdit: (doc: DesignDoc, group?: string, select?: Selection) => void;
  onSelect: (selection: Selection) => void;
  onRefuse: (reason: string) => void;
}

function toConnection(connection: FlowConnection | Connection): Connection {
  return {
    source: connection.source,
    sourceHandle: connection.sourceHandle ?? null,
    target: connection.target,
    targetHandle: connection.targetHandle ?? null,
  };
}

export function Canvas({ doc, types, selection, problemsByNode, readOnly, onEdit, onSelect, onRefuse }: CanvasProps) {
  const flow = useReactFlow();
  const [measured, setMeasured] = useState<Record<string, { width: number; height: number }>>({});
  const dragGroup = useRef(0);
  // Fit the flow into view when it opens; a canvas that starts empty keeps its zoom as nodes arrive.
  const [fitOnOpen] = useState(doc.nodes.length > 0);

  const nodes = useMemo<FlowCanvasNode[]>(() => {
    const selected = new Set(selection.nodes);
    return doc.nodes.map((node) => ({
      id: node.id,
      type: "flowNode",
      position: node.position,
      selected: selected.has(node.id),
      measured: measured[node.id],
      data: { node, nodeType: types.get(node.type), problems: problemsByNode.get(node.id) ?? NO_PROBLEMS, readOnly },
    }));
  }, [doc.nodes, types, selection.nodes, problemsByNode, measured, readOnly]);

  const edges = useMemo<Edge[]>(() => {
    const selected = new Set(selection.edges);
    return docEdges(doc).map((edge) => {
      const sourceType = types.get(doc.nodes.find((n) => n.id === edge.source)?.type ?? "");
      return {
        ...edge,
        selected: selected.has(edge.id),
        className: edge.order ? "order-edge" : "data-edge",
        style: edge.order ? { strokeDasharray: "6 4" } : { stroke: categoryColor(sourceType?.category) },
      };
    });
  }, [doc, types, selection.edges]);

  const onNodesChange = useCallback(
    (changes: NodeChange<FlowCanvasNode>[]) => {
      const positions: Record<string, Point> = {};
      let selectedNodes: Set<string> | null = null;
      const sizes: Record<string, { width: number; height: number }> = {};
      for (const change of changes) {
        if (change.type === "position" && change.position && !readOnly) positions[change.id] = change.position;
        if (change.type === "select") {
          selectedNodes ??= new Set(selection.nodes);
          if (change.selected) selectedNodes.add(change.id);
          else selectedNodes.delete(change.id);
        }
        if (change.type === "dimensions" && change.dimensions) sizes[change.id] = change.dimensions;
      }
      if (Object.keys(sizes).length > 0) setMeasured((current) => ({ ...current, ...sizes }));
      if (Object.keys(positions).length > 0) onEdit(moveNodes(doc, positions), `move:${dragGroup.current}`);
      if (selectedNodes) onSelect({ nodes: [...selectedNodes], edges: selection.edges });
    },
    [doc, readOnly, selection, onEdit, onSelect],
  );

  const onEdgesChange = useCallback(
    (changes: EdgeChange[]) => {
      let selectedEdges: Set<string> | null = null;
      for (const change of changes) {
        if (change.type === "select") {
          selectedEdges ??= new Set(selection.edges);
          if (change.selected) selectedEdges.add(change.id);
          else selectedEdges.delete(change.id);
        }
      }
      if (selectedEdges) onSelect({ nodes: selection.nodes, edges: [...selectedEdges] });
    },
    [selection, onSelect],
  );

  const isValidConnection = useCallback(
    (connection: FlowConnection | Edge) =>
      !readOnly && connect(doc, types, toConnection(connection as FlowConnection)).ok,
    [doc, types, readOnly],
  );

  const onConnect = useCallback(
    (connection: FlowConnection) => {
      const result = connect(doc, types, toConnection(connection));
      if (result.ok) onEdit(result.doc);
      else onRefuse(result.reason);
    },
    [doc, types, onEdit, onRefuse],
  );

  const onConnectEnd = useCallback(
    (_event: MouseEvent | TouchEvent, state: FinalConnectionState) => {
      if (readOnly || state.isValid || !state.fromHandle || !state.toHandle) return;
      const [from, to] = state.fromHandle.type === "source" ? [state.fromHandle, state.toHandle] : [state.toHandle, state.fromHandle];
      const result = connect(doc, types, { source: from.nodeId, sourceHandle: from.id ?? null, target: to.nodeId, targetHandle: to.id ?? null });
      if (!result.ok) onRefuse(result.reason);
    },
    [doc, types, readOnly, onRefuse],
  );

  const onDrop = useCallback(
    (event: DragEvent) => {
      event.preventDefault();
      const typeId = event.dataTransfer.getData(NODE_TYPE_MIME);
      const type = types.get(typeId);
      if (!type || readOnly) return;
      const position = flow.screenToFlowPosition({ x: event.clientX, y: event.clientY });
      const added = addNode(doc, type, { x: position.x - 90, y: position.y - 30 });
      onEdit(added.doc, undefined, { nodes: [added.id], edges: [] });
    },
    [doc, types, readOnly, flow, onEdit],
  );

  return (
    <div className="canvas" data-testid="canvas" onDragOver={(event) => {
      if (event.dataTransfer.types.includes(NODE_TYPE_MIME)) {
        event.preventDefault();
        event.dataTransfer.dropEffect = "copy";
      }
    }} onDrop={onDrop}>
      <ReactFlow<FlowCanvasNode>
        nodes={nodes}
        edges={edges}
        nodeTypes={NODE_TYPES}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onConnect={onConnect}
        onConnectEnd={onConnectEnd}
        isValidConnection={isValidConnection}
        onNodeDragStart={() => {
          dragGroup.current += 1;
        }}
        onPaneClick={() => onSelect({ nodes: [], edges: [] })}
        nodesDraggable={!readOnly}
        nodesConnectable={!readOnly}
        deleteKeyCode={null}
        selectionKeyCode="Shift"
        multiSelectionKeyCode={["Meta", "Control"]}
        fitView={fitOnOpen}
        fitViewOptions={{ padding: 0.25, maxZoom: 1.1 }}
        minZoom={0.2}
        proOptions={{ hideAttribution: true }}
      >
        <Background gap={20} color="#d7dce5" />
        <Controls showInteractive={false} />
        <MiniMap pannable zoomable nodeColor={(node) => categoryColor((node as FlowCanvasNode).data.nodeType?.category)} />
      </ReactFlow>
      {doc.nodes.length === 0 && (
        <div className="canvas-hint">{readOnly ? "This flow has no nodes." : "Drag a node from the palette to start."}</div>
      )}
    </div>
  );
}
