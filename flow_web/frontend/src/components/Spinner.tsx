export function Spinner({ label, small }: { label?: string; small?: boolean }) {
  return (
    <span className={small ? "spinner-wrap small" : "spinner-wrap"} role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label && <span className="spinner-label">{label}</span>}
    </span>
  );
}
