/**
 * What the signed-in user may do, from the scopes of their token. The UI hides
 * what a user cannot do; the services refuse it anyway (403).
 */

export interface Permissions {
  readFlows: boolean;
  editFlows: boolean;
  runFlows: boolean;
  readCron: boolean;
  editCron: boolean;
  readStreams: boolean;
  editStreams: boolean;
  editConnections: boolean;
  executeCode: boolean;
  admin: boolean;
}

export function permissionsOf(scopes: Iterable<string>): Permissions {
  const granted = new Set(scopes);
  const has = (scope: string) => granted.has(scope);
  return {
    readFlows: has("flows:read"),
    editFlows: has("flows:write"),
    runFlows: has("flows:run"),
    readCron: has("cron:read"),
    editCron: has("cron:write"),
    readStreams: has("streams:read"),
    editStreams: has("streams:write"),
    editConnections: has("connections:write"),
    executeCode: has("code:execute"),
    admin: granted.has("admin"),
  };
}

export function parseScope(scope: string | undefined | null): string[] {
  return (scope ?? "").split(/\s+/).filter(Boolean).sort();
}
