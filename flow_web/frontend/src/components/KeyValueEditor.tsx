/** Rows of name and value (headers, labels, map steps' fields), with add and remove. */
export interface KeyValueRow {
  key: string;
  value: string;
}

export function KeyValueEditor({
  rows,
  onChange,
  keyLabel = "Name",
  valueLabel = "Value",
  addLabel = "Add",
  monospace,
  disabled,
}: {
  rows: KeyValueRow[];
  onChange: (rows: KeyValueRow[]) => void;
  keyLabel?: string;
  valueLabel?: string;
  addLabel?: string;
  monospace?: boolean;
  disabled?: boolean;
}) {
  const update = (index: number, change: Partial<KeyValueRow>) =>
    onChange(rows.map((row, i) => (i === index ? { ...row, ...change } : row)));
  return (
    <div className="kv-editor">
      {rows.map((row, index) => (
        <div className="kv-row" key={index}>
          <input
            aria-label={`${keyLabel} ${index + 1}`}
            placeholder={keyLabel}
            value={row.key}
            className={monospace ? "code-input" : undefined}
            onChange={(event) => update(index, { key: event.target.value })}
            disabled={disabled}
          />
          <input
            aria-label={`${valueLabel} ${index + 1}`}
            placeholder={valueLabel}
            value={row.value}
            className={monospace ? "code-input" : undefined}
            onChange={(event) => update(index, { value: event.target.value })}
            disabled={disabled}
          />
          <button
            type="button"
            className="button small ghost"
            aria-label={`Remove ${keyLabel.toLowerCase()} ${index + 1}`}
            onClick={() => onChange(rows.filter((_, i) => i !== index))}
            disabled={disabled}
          >
            ×
          </button>
        </div>
      ))}
      <div>
        <button type="button" className="button small" onClick={() => onChange([...rows, { key: "", value: "" }])} disabled={disabled}>
          + {addLabel}
        </button>
      </div>
    </div>
  );
}
