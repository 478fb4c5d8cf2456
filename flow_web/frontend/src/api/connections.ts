/** flow_automation's data connections (flow_automation/api/connections.py): never a secret in an answer. */
import type { Connection, ConnectionSpec, ConnectionTestResult } from "../lib/connections";
import type { ApiClient } from "./client";
import type { Page } from "./types";

const CONNECTIONS = "/api/v1/connections";
const connection = (id: string) => `${CONNECTIONS}/${encodeURIComponent(id)}`;

export function listConnections(api: ApiClient, options: { cursor?: string | null; limit?: number } = {}): Promise<Page<Connection>> {
  return api.get<Page<Connection>>("flow_automation", CONNECTIONS, { limit: options.limit ?? 100, cursor: options.cursor });
}

export const createConnection = (api: ApiClient, spec: ConnectionSpec) => api.post<Connection>("flow_automation", CONNECTIONS, spec);
export const replaceConnection = (api: ApiClient, id: string, spec: ConnectionSpec) => api.put<Connection>("flow_automation", connection(id), spec);
/** Deletes a connection; a 409 names the flows that use it (details.flows), and `force` deletes anyway. */
export const deleteConnection = (api: ApiClient, id: string, force = false) =>
  api.delete<void>("flow_automation", connection(id), force ? { force: true } : undefined);

/** Connects with the stored secret and runs the cheapest query; a failure is an answer (ok: false) with the driver's words. */
export const testConnection = (api: ApiClient, id: string) => api.post<ConnectionTestResult>("flow_automation", `${connection(id)}/test`);
