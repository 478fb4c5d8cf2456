/**
 * The `details` of a service's 422 as field messages a form can show next to
 * its inputs. Every service reports pydantic's errors as
 * `[{field: "schedules.0.cron", message, type}]` (common/web/handlers.py);
 * a few add their own entries of the same shape.
 */

export interface FieldProblem {
  field: string;
  message: string;
}

/** pydantic prefixes the messages of custom validators; people do not need to read that. */
export function cleanMessage(message: string): string {
  return message.replace(/^(Value error|Assertion failed), /, "");
}

export function fieldProblems(details: unknown): FieldProblem[] {
  if (!Array.isArray(details)) return [];
  const problems: FieldProblem[] = [];
  for (const item of details) {
    if (!item || typeof item !== "object") continue;
    const entry = item as Record<string, unknown>;
    const message = typeof entry.message === "string" ? entry.message : typeof entry.msg === "string" ? entry.msg : null;
    if (message === null) continue;
    const field = typeof entry.field === "string" ? entry.field : Array.isArray(entry.loc) ? entry.loc.join(".") : "";
    problems.push({ field, message: cleanMessage(message) });
  }
  return problems;
}

/**
 * Problems keyed by form field. `rename` maps a server path to the form's key
 * (or null to keep it unplaced); the first message per key wins.
 */
export function problemsByField(problems: FieldProblem[], rename: (field: string) => string | null = (f) => f): Record<string, string> {
  const byField: Record<string, string> = {};
  for (const problem of problems) {
    const key = rename(problem.field) ?? "";
    if (!(key in byField)) byField[key] = problem.message;
  }
  return byField;
}

/** One line per problem: "schedules.0.cron: Invalid expression" (the field left out when there is none). */
export function problemLines(problems: FieldProblem[]): string[] {
  return problems.map((p) => (p.field && p.field !== "(body)" ? `${p.field}: ${p.message}` : p.message));
}
