/** The inputs of one step or sink, drawn from its field descriptions in lib/streams. */
import { Field } from "../../components/FormField";
import { KeyValueEditor, type KeyValueRow } from "../../components/KeyValueEditor";
import type { ComponentForm, ComponentType, FieldErrors, FieldSpec, FieldValue } from "../../lib/streams";

export function ComponentFields({
  spec,
  form,
  prefix,
  errors,
  onChange,
  disabled,
}: {
  spec: ComponentType | undefined;
  form: ComponentForm;
  prefix: string;
  errors: FieldErrors;
  onChange: (form: ComponentForm) => void;
  disabled?: boolean;
}) {
  if (!spec) return <div className="inline-error">This form does not know the type {form.type}; its settings are kept as they are.</div>;
  const set = (key: string, value: FieldValue) => onChange({ ...form, values: { ...form.values, [key]: value } });
  return (
    <div className="form-grid">
      {spec.fields.map((field) => (
        <FieldInput key={field.key} field={field} value={form.values[field.key]} error={errors[`${prefix}.${field.key}`]} onChange={(value) => set(field.key, value)} disabled={disabled} />
      ))}
    </div>
  );
}

function FieldInput({
  field,
  value,
  error,
  onChange,
  disabled,
}: {
  field: FieldSpec;
  value: FieldValue | undefined;
  error?: string;
  onChange: (value: FieldValue) => void;
  disabled?: boolean;
}) {
  const label = `${field.label}${field.required ? "" : " (optional)"}`;
  const text = typeof value === "string" ? value : "";
  switch (field.kind) {
    case "bool":
      return (
        <label className="toolbar span-2">
          <input type="checkbox" checked={Boolean(value)} onChange={(event) => onChange(event.target.checked)} disabled={disabled} aria-label={field.label} /> {field.label}
        </label>
      );
    case "pairs":
      return (
        <Field label={label} error={error} hint={field.hint} className="span-all" group>
          <KeyValueEditor
            rows={Array.isArray(value) ? (value as KeyValueRow[]) : []}
            onChange={onChange}
            keyLabel={field.key === "set" ? "Field" : field.key === "headers" ? "Header" : "From"}
            valueLabel={field.key === "set" ? "Expression" : field.key === "headers" ? "Value" : "To"}
            addLabel={field.key === "set" ? "Field" : field.key === "headers" ? "Header" : "Rename"}
            monospace
            disabled={disabled}
          />
        </Field>
      );
    case "json":
    case "code":
      return (
        <Field label={label} error={error} hint={field.hint} className="span-all">
          <textarea
            className="code-input"
            rows={field.kind === "code" ? 8 : 4}
            value={text}
            onChange={(event) => onChange(event.target.value)}
            aria-label={field.label}
            spellCheck={false}
            disabled={disabled}
          />
        </Field>
      );
    case "select":
      return (
        <Field label={field.label} error={error} hint={field.hint}>
          <select value={text} onChange={(event) => onChange(event.target.value)} aria-label={field.label} disabled={disabled}>
            <option value="">(default)</option>
            {field.options?.map((option) => (
              <option key={option} value={option}>
                {option}
              </option>
            ))}
          </select>
        </Field>
      );
    default:
      return (
        <Field label={label} error={error} hint={field.hint} className={field.kind === "expr" || field.kind === "list" ? "span-2" : undefined}>
          <input
            type={field.kind === "number" ? "number" : "text"}
            step="any"
            className={field.kind === "expr" ? "code-input" : undefined}
            value={text}
            placeholder={field.placeholder}
            onChange={(event) => onChange(event.target.value)}
            aria-label={field.label}
            spellCheck={false}
            disabled={disabled}
          />
        </Field>
      );
  }
}
