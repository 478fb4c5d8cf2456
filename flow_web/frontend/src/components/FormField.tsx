import type { ReactNode } from "react";

/**
 * A labelled input with its hint and, when there is one, its error (from the
 * form or the server's 422). `group` draws a labelled group instead of a
 * <label>, for several inputs (rows of names and values).
 */
export function Field({
  label,
  error,
  hint,
  className,
  group,
  children,
}: {
  label: ReactNode;
  error?: string | null;
  hint?: ReactNode;
  className?: string;
  group?: boolean;
  children: ReactNode;
}) {
  const classes = `field${error ? " field-invalid" : ""}${className ? ` ${className}` : ""}`;
  const content = (
    <>
      <span>{label}</span>
      {children}
      {error ? <span className="field-error">{error}</span> : hint ? <span className="field-hint">{hint}</span> : null}
    </>
  );
  return group ? (
    <div className={classes} role="group" aria-label={typeof label === "string" ? label : undefined}>
      {content}
    </div>
  ) : (
    <label className={classes}>{content}</label>
  );
}

/** Buttons that pick one of a few values (a schedule's kind, an action's type). */
export function Segmented<T extends string>({
  value,
  options,
  onChange,
  label,
  disabled,
}: {
  value: T;
  options: readonly { value: T; label: string }[];
  onChange: (value: T) => void;
  label: string;
  disabled?: boolean;
}) {
  return (
    <div className="segmented" role="radiogroup" aria-label={label}>
      {options.map((option) => (
        <button
          key={option.value}
          type="button"
          role="radio"
          aria-checked={option.value === value}
          className={option.value === value ? "active" : ""}
          onClick={() => onChange(option.value)}
          disabled={disabled}
        >
          {option.label}
        </button>
      ))}
    </div>
  );
}
