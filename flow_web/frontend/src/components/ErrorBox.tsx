import { ApiError, errorMessage } from "../api/client";

/** An error where content would be: the server's message, its code, and a retry when one makes sense. */
export function ErrorBox({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const code = error instanceof ApiError ? error.code : null;
  const status = error instanceof ApiError && error.status ? ` (${error.status})` : "";
  return (
    <div className="error-box" role="alert">
      <strong>{errorMessage(error)}</strong>
      {code && (
        <span className="muted">
          {" "}
          {code}
          {status}
        </span>
      )}
      {onRetry && (
        <button type="button" className="button small" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}
