/**
 * The shapes of the services' JSON, as the UI uses them. They follow the
 * pydantic models behind each service's /openapi.json (flow_automation:
 * flows/model.py, node_types/_base.py, flows/store.py; ecron: models.py).
 */

export type ServiceName = "flow_automation" | "coderunner" | "ecron" | "stream_pipeline";

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown; request_id?: string };
}

export interface PortInfo {
  name: string;
  kind: string;
  description: string;
  required: boolean;
  conditional: boolean;
}

export type JsonSchema = Record<string, unknown>;

export interface NodeTypeInfo {
  id: string;
  title: string;
  category: string;
  description: string;
  inputs: PortInfo[];
  outputs: PortInfo[];
  extra_inputs: string | null;
  outputs_mirror_inputs: boolean;
  config_schema: JsonSchema;
}

export interface NodeTypeList {
  items: NodeTypeInfo[];
  categories: string[];
}

export type ParamType = "string" | "integer" | "number" | "boolean" | "object" | "array" | "date" | "datetime";

export interface ParamSpec {
  type: ParamType;
  default?: unknown;
  required?: boolean;
  description?: string;
}

export interface NodeSpec {
  id: string;
  type: string;
  title?: string | null;
  config: Record<string, unknown>;
  inputs: Record<string, string>;
  retries?: number;
  retry_backoff_s?: number;
  timeout_s?: number | null;
  cache?: boolean;
}

export interface CronTrigger {
  type: "cron";
  cron: string;
  timezone?: string;
  params?: Record<string, unknown>;
  enabled?: boolean;
}

export interface WebhookTrigger {
  type: "webhook";
  enabled?: boolean;
}

export interface KafkaTrigger {
  type: "kafka";
  topic: string;
  group?: string | null;
  dedupe_key?: string | null;
  params?: Record<string, unknown>;
  enabled?: boolean;
}

export type Trigger = CronTrigger | WebhookTrigger | KafkaTrigger;

export interface FlowDefinition {
  id?: string | null;
  name: string;
  description?: string;
  params?: Record<string, ParamSpec>;
  nodes: NodeSpec[];
  edges?: { from: string; to: string }[];
  triggers?: Trigger[];
  concurrency?: number;
  tags?: string[];
  ui?: Record<string, unknown>;
}

/** One entry of a saved flow's trigger state (flow_automation/triggers/__init__.py). */
export interface TriggerState {
  type: "cron" | "webhook" | "kafka";
  index: number;
  status: string;
  cron?: string;
  timezone?: string;
  url?: string;
  topic?: string;
  message?: string | null;
}

export interface LastRun {
  id: string;
  state: string;
  finished_at?: string;
}

export interface FlowSummary {
  id: string;
  name: string;
  description: string;
  tags: string[];
  version: number;
  created_at: string;
  updated_at: string;
  created_by?: string | null;
  updated_by?: string | null;
  last_run?: LastRun | null;
  triggers: TriggerState[];
}

export interface FlowDetail extends FlowSummary {
  definition: FlowDefinition;
  created_version?: boolean;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface VersionSummary {
  flow_id: string;
  version: number;
  created_at: string;
  created_by?: string | null;
  hash?: string;
}

export interface VersionDetail extends VersionSummary {
  definition: FlowDefinition;
}

/** A 422 of a flow save: every problem, with the node and field it concerns. */
export interface FlowProblem {
  node: string | null;
  field: string;
  message: string;
  cycle?: string[];
}

export interface WhoAmI {
  service: string;
  subject: string;
  client_id: string | null;
  scopes: string[];
}
