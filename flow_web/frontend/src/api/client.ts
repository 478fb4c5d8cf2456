/**
 * The one way the UI calls a service: through flow_web's proxy at
 * `/api/<service>/...`, with the session's bearer token.
 *
 * A 401 is retried once after a silent refresh; a second 401 ends the session.
 * Every failure becomes an ApiError carrying the server's own message and code
 * from its `{"error": {"code", "message", "details"}}` body, so screens can
 * show what the service said rather than a bare status.
 */
import type { ErrorBody, ServiceName } from "./types";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly requestId?: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export interface TokenSource {
  accessToken(): Promise<string | null>;
  refresh(): Promise<boolean>;
  /** Called when the services refuse the session even after a refresh. */
  expired(): void;
}

export interface RequestOptions {
  method?: string;
  query?: Record<string, string | number | boolean | undefined | null>;
  json?: unknown;
  body?: BodyInit;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export type ProgressListener = (pending: number) => void;

export function servicePath(service: ServiceName, path: string, query?: RequestOptions["query"]): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const suffix = search.toString();
  return `/api/${service}${path.startsWith("/") ? path : `/${path}`}${suffix ? `?${suffix}` : ""}`;
}

/** The ApiError for a response that is not ok, from its JSON error body when it has one. */
export async function errorFromResponse(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => "");
  try {
    const body = JSON.parse(text) as Partial<ErrorBody> & { error_description?: string };
    if (body.error && typeof body.error === "object" && typeof body.error.message === "string") {
      return new ApiError(response.status, body.error.code ?? "error", body.error.message, body.error.details, body.error.request_id);
    }
    if (typeof body.error === "string") {
      return new ApiError(response.status, body.error, body.error_description ?? body.error);
    }
  } catch {
    // not JSON
  }
  const reason = response.statusText || "request failed";
  return new ApiError(response.status, "http_error", `${response.status} ${reason}${text && text.length < 200 ? `: ${text}` : ""}`);
}

export class ApiClient {
  private pending = 0;
  private readonly progressListeners = new Set<ProgressListener>();

  constructor(
    private readonly tokens: TokenSource,
    private readonly fetchImpl: typeof fetch = (...args) => globalThis.fetch(...args),
  ) {}

  onProgress(listener: ProgressListener): () => void {
    this.progressListeners.add(listener);
    return () => this.progressListeners.delete(listener);
  }

  private track(delta: number): void {
    this.pending += delta;
    for (const listener of this.progressListeners) listener(this.pending);
  }

  /** The raw response of a call (ok or not), after the refresh-and-retry dance. */
  async send(service: ServiceName, path: string, options: RequestOptions = {}): Promise<Response> {
    const url = servicePath(service, path, options.query);
    const attempt = async (): Promise<Response> => {
      const headers: Record<string, string> = { Accept: "application/json", ...options.headers };
      const token = await this.tokens.accessToken();
      if (token) headers.Authorization = `Bearer ${token}`;
      let body = options.body;
      if (options.json !== undefined) {
        body = JSON.stringify(options.json);
        headers["Content-Type"] = "application/json";
      }
      try {
        return await this.fetchImpl(url, { method: options.method ?? "GET", headers, body, signal: options.signal });
      } catch (error) {
        if (error instanceof DOMException && error.name === "AbortError") throw error;
        throw new ApiError(0, "network", "The web UI's server cannot be reached; check your connection and that flow_web runs");
      }
    };
    this.track(1);
    try {
      let response = await attempt();
      if (response.status === 401) {
        if (await this.tokens.refresh()) response = await attempt();
        if (response.status === 401) this.tokens.expired();
      }
      return response;
    } finally {
      this.track(-1);
    }
  }

  /** The decoded JSON of a successful call; an ApiError otherwise. */
  async request<T>(service: ServiceName, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.send(service, path, options);
    if (!response.ok) throw await errorFromResponse(response);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  get<T>(service: ServiceName, path: string, query?: RequestOptions["query"]): Promise<T> {
    return this.request<T>(service, path, { query });
  }

  post<T>(service: ServiceName, path: string, json?: unknown, query?: RequestOptions["query"]): Promise<T> {
    return this.request<T>(service, path, { method: "POST", json: json ?? {}, query });
  }

  put<T>(service: ServiceName, path: string, json: unknown, query?: RequestOptions["query"]): Promise<T> {
    return this.request<T>(service, path, { method: "PUT", json, query });
  }

  delete<T>(service: ServiceName, path: string, query?: RequestOptions["query"]): Promise<T> {
    return this.request<T>(service, path, { method: "DELETE", query });
  }
}

/** A message for any error a call can throw, for toasts and error boxes. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
