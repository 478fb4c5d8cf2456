/**
 * The side panel of the selected node: its id and title, the generated config
 * form, where each input comes from (another node's output or a flow param),
 * and how it runs (retries, timeout, cache). The server's problems with the
 * node are listed on top and next to the fields they name.
 */
import { useEffect, useState } from "react";
import type { FlowProblem, NodeTypeInfo } from "../../api/types";
import { reaches } from "../../lib/dag";
import {
  type DesignDoc,
  type DesignNode,
  graphEdges,
  inputPorts,
  outputPorts,
  renameNode,
  type Result,
  type TypeIndex,
  updateNode,
} from "../../lib/flowDoc";
import { ConfigForm } from "./ConfigForm";

export interface NodePanelProps {
  doc: DesignDoc;
  node: DesignNode;
  types: TypeIndex;
  problems: FlowProblem[];
  readOnly: boolean;
  onEdit: (doc: DesignDoc, group?: string, select?: { nodes: string[]; edges: string[] }) => void;
  onRefuse: (reason: string) => void;
  onDelete: () => void;
}

function numberOrUndefined(text: string): number | undefined {
  if (text.trim() === "") return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

export function NodePanel({ doc, node, types, problems, readOnly, onEdit, onRefuse, onDelete }: NodePanelProps) {
  const nodeType: NodeTypeInfo | undefined = types.get(node.type);
  const [idDraft, setIdDraft] = useState(node.id);
  useEffect(() => setIdDraft(node.id), [node.id]);

  const change = (fields: Partial<DesignNode>, group: string) => onEdit(updateNode(doc, node.id, fields), `${group}:${node.id}`);

  const commitRename = () => {
    const result: Result = renameNode(doc, node.id, idDraft.trim());
    if (result.ok) {
      if (idDraft.trim() !== node.id) onEdit(result.doc, undefined, { nodes: [idDraft.trim()], edges: [] });
    } else {
      onRefuse(result.reason);
      setIdDraft(node.id);
    }
  };

  const edges = graphEdges(doc);
  // Sources this node may read from: a node downstream of it would close a cycle.
  const sources = doc.nodes
    .filter((other) => other.id !== node.id && !reaches(edges, node.id, other.id))
    .flatMap((other) => outputPorts(other, types.get(other.type)).map((port) => `${other.id}.${port.name}`));
  const params = Object.keys(doc.params).map((name) => `params.${name}`);

  const setInput = (input: string, reference: string) => {
    const inputs = { ...node.inputs };
    if (reference === "") delete inputs[input];
    else inputs[input] = reference;
    onEdit(updateNode(doc, node.id, { inputs }));
  };

  const general = problems.filter((p) => !p.field.startsWith("config"));
  const inputs = inputPorts(node, nodeType);

  return (
    <aside className="side-panel" aria-label={`Node ${node.id}`} data-testid="node-panel">
      <div className="side-head">
        <div>
          <h2>{nodeType?.title ?? node.type}</h2>
          <div className="muted small-text">{node.type}</div>
        </div>
        {!readOnly && (
          <button type="button" className="button small" onClick={onDelete} title="Delete (Del)">
            Delete
          </button>
        )}
      </div>
      {nodeType ? <p className="muted small-text">{nodeType.description}</p> : <p className="error-box">Unknown node type {node.type}</p>}
      {problems.length > 0 && (
        <div className="error-box problems-list" data-testid="node-problems">
          {problems.map((problem, index) => (
            <div key={index}>
              <strong>{problem.field}</strong>: {problem.message}
            </div>
          ))}
        </div>
      )}
      <div className="field-row">
        <label className="field grow">
          Id
          <input
            value={idDraft}
            disabled={readOnly}
            aria-label="Node id"
            onChange={(event) => setIdDraft(event.target.value)}
            onBlur={commitRename}
            onKeyDown={(event) => event.key === "Enter" && commitRename()}
          />
        </label>
        <label className="field grow">
          Title
          <input
            value={node.title ?? ""}
            disabled={readOnly}
            placeholder={node.id}
            aria-label="Node title"
            onChange={(event) => change({ title: event.target.value || undefined }, "title")}
          />
        </label>
      </div>

      <h3>Configuration</h3>
      {nodeType && (
        <ConfigForm
          nodeId={node.id}
          nodeType={nodeType}
          config={node.config}
          problems={problems.filter((p) => p.field.startsWith("config"))}
          disabled={readOnly}
          onChange={(config) => change({ config }, "config")}
        />
      )}

      <h3>Inputs</h3>
      {inputs.length === 0 && !nodeType?.extra_inputs && <p className="muted small-text">This node takes no inputs.</p>}
      {inputs.map((port) => {
        const current = node.inputs[port.name] ?? "";
        const options = [...new Set([...params, ...sources, ...(current ? [current] : [])])];
        return (
          <label key={port.name} className="field">
            <span>
              {port.name} <span className="port-kind">{port.kind}</span>
              {port.required && <span className="required"> required</span>}
            </span>
            <select value={current} disabled={readOnly} aria-label={`Input ${port.name}`} onChange={(event) => setInput(port.name, event.target.value)}>
              <option value="">— not connected —</option>
              {options.map((option) => (
                <option key={option} value={option}>
                  {option}
                </option>
              ))}
            </select>
          </label>
        );
      })}
      {nodeType?.extra_inputs && !readOnly && <p className="muted small-text">Connect an output to “+ input” to add an input under a new name.</p>}

      <h3>Execution</h3>
      <div className="field-row">
        <label className="field">
          Retries
          <input
            type="number"
            min={0}
            max={50}
            value={node.retries ?? ""}
            placeholder="0"
            disabled={readOnly}
            onChange={(event) => change({ retries: numberOrUndefined(event.target.value) }, "retries")}
          />
        </label>
        <label className="field">
          Backoff (s)
          <input
            type="number"
            min={0}
            step="any"
            value={node.retry_backoff_s ?? ""}
            placeholder="1"
            disabled={readOnly}
            onChange={(event) => change({ retry_backoff_s: numberOrUndefined(event.target.value) }, "backoff")}
          />
        </label>
        <label className="field">
          Timeout (s)
          <input
            type="number"
            min={0}
            step="any"
            value={node.timeout_s ?? ""}
            placeholder="none"
            disabled={readOnly}
            onChange={(event) => change({ timeout_s: numberOrUndefined(event.target.value) }, "timeout")}
          />
        </label>
      </div>
      <label className="checkbox">
        <input type="checkbox" checked={node.cache ?? false} disabled={readOnly} onChange={(event) => change({ cache: event.target.checked || undefined }, "cache")} />
        Reuse outputs for the same config and inputs (cache)
      </label>
      {general.length > 0 && <div className="muted small-text">Fix the fields above, then save again.</div>}
    </aside>
  );
}
