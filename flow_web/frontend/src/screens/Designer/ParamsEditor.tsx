/** The flow's params: name, type, default, required, description. */
import { useState } from "react";
import type { ParamSpec, ParamType } from "../../api/types";
import type { DesignDoc } from "../../lib/flowDoc";

const TYPES: ParamType[] = ["string", "integer", "number", "boolean", "date", "datetime", "object", "array"];
const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** The default as typed, converted to the param's type where it can be (JSON for objects and lists). */
export function parseDefault(type: ParamType, text: string): unknown {
  if (text === "") return undefined;
  if (type === "integer" || type === "number") {
    const value = Number(text);
    return Number.isFinite(value) ? value : text;
  }
  if (type === "boolean") return text === "true" ? true : text === "false" ? false : text;
  if (type === "object" || type === "array") {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

function shownDefault(value: unknown): string {
  if (value === undefined || value === null) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

export function ParamsEditor({ doc, readOnly, onEdit, onRefuse }: {
  doc: DesignDoc;
  readOnly: boolean;
  onEdit: (doc: DesignDoc, group?: string) => void;
  onRefuse: (reason: string) => void;
}) {
  const [newName, setNewName] = useState("");
  const entries = Object.entries(doc.params);
  const update = (name: string, spec: ParamSpec, group: string) => onEdit({ ...doc, params: { ...doc.params, [name]: spec } }, `param:${name}:${group}`);
  const remove = (name: string) => {
    const params = { ...doc.params };
    delete params[name];
    onEdit({ ...doc, params });
  };
  const add = () => {
    const name = newName.trim();
    if (!NAME.test(name)) return onRefuse("A param name starts with a letter or _, then letters, digits or _");
    if (doc.params[name]) return onRefuse(`The flow already has a param ${name}`);
    onEdit({ ...doc, params: { ...doc.params, [name]: { type: "string" } } });
    setNewName("");
  };
  return (
    <div className="params-editor" data-testid="params-editor">
      {entries.length === 0 && <p className="muted small-text">No params. A run can be given values for the params a flow declares; nodes read them through inputs bound to params.&lt;name&gt;.</p>}
      {entries.map(([name, spec]) => (
        <div key={name} className="param-card">
          <div className="field-row">
            <strong className="grow">{name}</strong>
            {!readOnly && (
              <button type="button" className="button small" onClick={() => remove(name)} aria-label={`Remove param ${name}`}>
                Remove
              </button>
            )}
          </div>
          <div className="field-row">
            <label className="field">
              Type
              <select value={spec.type} disabled={readOnly} onChange={(e) => update(name, { ...spec, type: e.target.value as ParamType }, "type")}>
                {TYPES.map((type) => (
                  <option key={type}>{type}</option>
                ))}
              </select>
            </label>
            <label className="field grow">
              Default
              <input
                value={shownDefault(spec.default)}
                disabled={readOnly}
                onChange={(e) => update(name, { ...spec, default: parseDefault(spec.type, e.target.value) }, "default")}
              />
            </label>
          </div>
          <label className="checkbox">
            <input type="checkbox" checked={spec.required ?? false} disabled={readOnly} onChange={(e) => update(name, { ...spec, required: e.target.checked }, "required")} />
            required (a run must supply it when there is no default)
          </label>
          <label className="field">
            Description
            <input value={spec.description ?? ""} disabled={readOnly} onChange={(e) => update(name, { ...spec, description: e.target.value }, "description")} />
          </label>
        </div>
      ))}
      {!readOnly && (
        <div className="field-row">
          <input className="grow" placeholder="new param name" aria-label="New param name" value={newName} onChange={(e) => setNewName(e.target.value)} onKeyDown={(e) => e.key === "Enter" && add()} />
          <button type="button" className="button" onClick={add}>
            Add param
          </button>
        </div>
      )}
    </div>
  );
}
