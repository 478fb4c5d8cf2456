/**
 * Toasts: short messages in a corner. Errors carry the server's own message
 * (ApiError.message) and stay until closed; other kinds go away by themselves.
 */
import { createContext, useCallback, useContext, useMemo, useRef, useState, type ReactNode } from "react";
import { errorMessage } from "../api/client";

export type ToastKind = "success" | "error" | "info";

interface Toast {
  id: number;
  kind: ToastKind;
  message: string;
}

export interface Toaster {
  show(kind: ToastKind, message: string): void;
  success(message: string): void;
  info(message: string): void;
  /** An error toast from anything thrown: `toast.error(e, "Could not save")`. */
  error(error: unknown, prefix?: string): void;
}

const ToastContext = createContext<Toaster | null>(null);

export function useToast(): Toaster {
  const toaster = useContext(ToastContext);
  if (!toaster) throw new Error("useToast() outside <ToastProvider>");
  return toaster;
}

const LIFETIME_MS: Record<ToastKind, number | null> = { success: 4000, info: 6000, error: null };

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const next = useRef(1);
  const dismiss = useCallback((id: number) => setToasts((list) => list.filter((t) => t.id !== id)), []);
  const show = useCallback(
    (kind: ToastKind, message: string) => {
      const id = next.current++;
      setToasts((list) => [...list.slice(-4), { id, kind, message }]);
      const lifetime = LIFETIME_MS[kind];
      if (lifetime) window.setTimeout(() => dismiss(id), lifetime);
    },
    [dismiss],
  );
  const toaster = useMemo<Toaster>(
    () => ({
      show,
      success: (message) => show("success", message),
      info: (message) => show("info", message),
      error: (error, prefix) => show("error", prefix ? `${prefix}: ${errorMessage(error)}` : errorMessage(error)),
    }),
    [show],
  );
  return (
    <ToastContext.Provider value={toaster}>
      {children}
      <div className="toasts" aria-live="assertive">
        {toasts.map((toast) => (
          <div key={toast.id} className={`toast ${toast.kind}`} role={toast.kind === "error" ? "alert" : "status"}>
            <span>{toast.message}</span>
            <button type="button" className="toast-close" aria-label="Dismiss" onClick={() => dismiss(toast.id)}>
              ×
            </button>
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  );
}
