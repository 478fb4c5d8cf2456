/**
 * A node's config as a form generated from its type's JSON Schema
 * (react-jsonschema-form, validated as you type with Ajv), code fields in
 * CodeMirror, and the server's last verdict on each field shown next to it.
 */
import Form from "@rjsf/core";
import type { ErrorSchema, FieldProps, RJSFSchema, UiSchema, WidgetProps } from "@rjsf/utils";
import validator from "@rjsf/validator-ajv8";
import { useMemo, useState } from "react";
import type { FlowProblem, NodeTypeInfo } from "../../api/types";
import { CODE_WIDGET, JSON_FIELD, cleanConfig, prepareConfigSchema } from "../../lib/schemaForm";
import { CodeEditor } from "./CodeEditor";

function CodeWidget(props: WidgetProps) {
  const language = (props.options as { language?: string }).language;
  return (
    <CodeEditor
      id={props.name}
      value={typeof props.value === "string" ? props.value : ""}
      language={language}
      readOnly={props.disabled || props.readonly}
      onChange={(value) => props.onChange(value === "" ? undefined : value)}
    />
  );
}

/** Any JSON value in one text field: numbers, booleans, lists as JSON; anything else as a string. */
function JsonValueField(props: FieldProps) {
  const shown = props.formData === undefined ? "" : typeof props.formData === "string" ? props.formData : JSON.stringify(props.formData);
  const [text, setText] = useState(shown);
  const commit = (raw: string) => {
    setText(raw);
    let value: unknown = raw;
    if (raw.trim() === "") value = undefined;
    else {
      try {
        value = JSON.parse(raw);
      } catch {
        value = raw;
      }
    }
    props.onChange(value, props.fieldPathId.path);
  };
  return (
    <div className="form-group field">
      <label className="control-label" htmlFor={props.fieldPathId.$id}>
        {props.schema.title ?? props.name}
      </label>
      <input
        id={props.fieldPathId.$id}
        className="form-control"
        value={text}
        disabled={props.disabled || props.readonly}
        placeholder="a value: text, 42, true, or a JSON list"
        onChange={(event) => commit(event.target.value)}
      />
      {props.schema.description && <p className="field-description">{props.schema.description}</p>}
    </div>
  );
}

const WIDGETS = { [CODE_WIDGET]: CodeWidget };
const FIELDS = { [JSON_FIELD]: JsonValueField };

/** The server's problems with `config.<path>` fields as the form's error schema. */
export function serverErrors(problems: readonly FlowProblem[]): ErrorSchema {
  const root: Record<string, unknown> = {};
  for (const problem of problems) {
    if (!problem.field.startsWith("config")) continue;
    const path = problem.field.split(".").slice(1);
    let cursor = root;
    for (const part of path) {
      cursor[part] ??= {};
      cursor = cursor[part] as Record<string, unknown>;
    }
    const list = (cursor.__errors as string[] | undefined) ?? [];
    list.push(problem.message);
    cursor.__errors = list;
  }
  return root as ErrorSchema;
}

export interface ConfigFormProps {
  nodeId: string;
  nodeType: NodeTypeInfo;
  config: Record<string, unknown>;
  problems: readonly FlowProblem[];
  disabled: boolean;
  onChange: (config: Record<string, unknown>) => void;
}

export function ConfigForm({ nodeId, nodeType, config, problems, disabled, onChange }: ConfigFormProps) {
  const prepared = useMemo(() => prepareConfigSchema(nodeType.config_schema), [nodeType]);
  const uiSchema = useMemo<UiSchema>(
    () => ({ ...prepared.uiSchema, "ui:submitButtonOptions": { norender: true } }),
    [prepared],
  );
  const extraErrors = useMemo(() => serverErrors(problems), [problems]);
  const properties = (prepared.schema.properties ?? {}) as Record<string, unknown>;
  if (Object.keys(properties).length === 0) {
    return <p className="muted">This node type has no configuration.</p>;
  }
  return (
    <div className="config-form" data-testid="config-form">
      <Form
        key={nodeId}
        schema={prepared.schema as RJSFSchema}
        uiSchema={uiSchema}
        formData={config}
        validator={validator}
        widgets={WIDGETS}
        fields={FIELDS}
        liveValidate="onChange"
        showErrorList={false}
        noHtml5Validate
        extraErrors={extraErrors}
        disabled={disabled}
        idPrefix={`config-${nodeId}`}
        onChange={(event) => onChange(cleanConfig((event.formData ?? {}) as Record<string, unknown>, prepared.schema))}
      />
    </div>
  );
}
