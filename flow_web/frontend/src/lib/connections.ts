/**
 * Data connections in the Connections screen's form and back
 * (flow_automation/connections.py).
 *
 * The service never returns a secret: URLs come back with the password as
 * `***`, and a replacement whose URL still says `***` keeps the stored
 * password. The form has the URL plus a separate password input; a typed
 * password is put into the URL's user info (percent-encoded) only when the
 * form is sent, and is never filled in again.
 */

export type ConnectionKind = "sql" | "mongo";

export interface Connection {
  id: string;
  name: string;
  kind: ConnectionKind;
  /** The URL with its password masked as ***. */
  url: string;
  database: string | null;
  description: string;
  created_at: string;
  updated_at: string;
}

export interface ConnectionSpec {
  id?: string;
  name: string;
  kind: ConnectionKind;
  url: string;
  database?: string | null;
  description?: string;
}

export interface ConnectionTestResult {
  ok: boolean;
  message: string;
  duration_ms: number;
}

export interface ConnectionForm {
  id: string;
  name: string;
  kind: ConnectionKind;
  url: string;
  password: string;
  database: string;
  description: string;
}

export const MASK = "***";

export function newConnectionForm(): ConnectionForm {
  return { id: "", name: "", kind: "sql", url: "", password: "", database: "", description: "" };
}

/** An existing connection in the edit form: its masked URL, and no password (the stored one is kept). */
export function connectionToForm(connection: Connection): ConnectionForm {
  return {
    id: connection.id,
    name: connection.name,
    kind: connection.kind,
    url: connection.url,
    password: "",
    database: connection.database ?? "",
    description: connection.description ?? "",
  };
}

interface UserInfo {
  scheme: string;
  user: string;
  password: string | null;
  rest: string;
  hasUserInfo: boolean;
}

/** `scheme://`, user, password and the rest of a URL whose password may hold ':' or '@' (the last '@' ends it). */
export function splitUserInfo(url: string): UserInfo {
  const marker = url.indexOf("://");
  if (marker < 0) return { scheme: "", user: "", password: null, rest: url, hasUserInfo: false };
  const scheme = url.slice(0, marker + 3);
  const rest = url.slice(marker + 3);
  let end = rest.length;
  for (const stop of ["/", "?", "#"]) {
    const position = rest.indexOf(stop);
    if (position !== -1) end = Math.min(end, position);
  }
  const authority = rest.slice(0, end);
  const at = authority.lastIndexOf("@");
  if (at < 0) return { scheme, user: "", password: null, rest, hasUserInfo: false };
  const userInfo = authority.slice(0, at);
  const colon = userInfo.indexOf(":");
  return {
    scheme,
    user: colon < 0 ? userInfo : userInfo.slice(0, colon),
    password: colon < 0 ? null : userInfo.slice(colon + 1),
    rest: authority.slice(at + 1) + rest.slice(end),
    hasUserInfo: true,
  };
}

/** The URL with `password` as its user's password (percent-encoded), or a reason it cannot take one. */
export function urlWithPassword(url: string, password: string): { url: string } | { error: string } {
  if (password === "") return { url };
  const parts = splitUserInfo(url.trim());
  if (!parts.scheme) return { error: "Enter the URL first (e.g. postgresql://user@host/db), then the password" };
  if (!parts.user) return { error: "Put the user name in the URL (scheme://user@host/...) so the password has someone to belong to" };
  return { url: `${parts.scheme}${parts.user}:${encodeURIComponent(password)}@${parts.rest}` };
}

/** Whether the URL (as the user typed it) carries a password in clear text. */
export function hasPlainPassword(url: string): boolean {
  const { password } = splitUserInfo(url);
  return password !== null && password !== "" && password !== MASK;
}

/** The kind a URL's scheme suggests: MongoDB URIs are mongo, everything else SQLAlchemy. */
export function kindOfUrl(url: string): ConnectionKind | null {
  const text = url.trim().toLowerCase();
  if (!text.includes("://") && !text.startsWith("sqlite:")) return null;
  return text.startsWith("mongodb://") || text.startsWith("mongodb+srv://") ? "mongo" : "sql";
}

export type FieldErrors = Record<string, string>;

export function formToConnectionSpec(form: ConnectionForm, { creating }: { creating: boolean }): { spec: ConnectionSpec | null; errors: FieldErrors } {
  const errors: FieldErrors = {};
  if (form.name.trim() === "") errors.name = "Give the connection a name";
  if (creating && form.id.trim() && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(form.id.trim())) {
    errors.id = "Letters, digits, '.', '_' and '-', starting with a letter or digit (64 at most)";
  }
  let url = form.url.trim();
  if (url === "") errors.url = form.kind === "mongo" ? "Enter a MongoDB URI, e.g. mongodb://user@host:27017/db" : "Enter a SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db";
  else {
    const kind = kindOfUrl(url);
    if (kind && kind !== form.kind) errors.url = kind === "mongo" ? "This is a MongoDB URI: choose the MongoDB kind" : "This is not a MongoDB URI: choose the SQL kind";
    const withPassword = urlWithPassword(url, form.password);
    if ("error" in withPassword) errors.password = withPassword.error;
    else url = withPassword.url;
    if (!creating && splitUserInfo(url).password === MASK && form.password === "") {
      // the service keeps the stored password
    } else if (creating && splitUserInfo(url).password === MASK) {
      errors.password = "*** stands for a stored password; a new connection needs the real one";
    }
  }
  const spec: ConnectionSpec = { name: form.name.trim(), kind: form.kind, url, description: form.description };
  if (form.kind === "mongo" && form.database.trim()) spec.database = form.database.trim();
  if (creating && form.id.trim()) spec.id = form.id.trim();
  return { spec: Object.keys(errors).length === 0 ? spec : null, errors };
}

/** A server-side field path as the form's key (`url`, `name`, ...); model-level problems go to the URL. */
export function formFieldOf(path: string): string {
  const field = path.split(".")[0];
  return ["id", "name", "kind", "url", "database", "description"].includes(field) ? field : "url";
}

/** The flows a 409 on delete names (`details.flows`: ids, or objects with a name or id). */
export function flowsUsing(details: unknown): string[] {
  const flows = details && typeof details === "object" ? (details as { flows?: unknown }).flows : undefined;
  if (!Array.isArray(flows)) return [];
  return flows.map((flow) => {
    if (flow && typeof flow === "object") {
      const { name, id } = flow as { name?: unknown; id?: unknown };
      return String(name ?? id ?? "");
    }
    return String(flow);
  });
}
