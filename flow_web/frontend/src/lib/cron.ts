/**
 * Cron expressions in words, as ecron reads them: five fields (minute hour day
 * month day-of-week), or six with seconds first, or an @alias. The next fire
 * times come from ecron (POST /api/v1/schedules/preview); this only describes.
 */
import cronstrue from "cronstrue";

export const CRON_ALIASES: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

export type CronDescription = { ok: true; text: string } | { ok: false; error: string };

/** The expression with aliases expanded and whitespace normalised. */
export function normalizeCron(expression: string): string {
  const trimmed = expression.trim().replace(/\s+/g, " ");
  return CRON_ALIASES[trimmed.toLowerCase()] ?? trimmed;
}

export function describeCron(expression: string): CronDescription {
  const text = normalizeCron(expression);
  if (text === "") return { ok: false, error: "Enter a cron expression, e.g. 0 6 * * * (every day at 06:00)" };
  const fields = text.split(" ").length;
  if (fields !== 5 && fields !== 6) {
    return {
      ok: false,
      error: `A cron expression has 5 fields (minute hour day month weekday) or 6 with seconds first; this one has ${fields}`,
    };
  }
  try {
    return { ok: true, text: cronstrue.toString(text, { use24HourTimeFormat: true, verbose: false }) };
  } catch (error) {
    const message = typeof error === "string" ? error : error instanceof Error ? error.message : String(error);
    return { ok: false, error: message.replace(/^Error: /, "") };
  }
}
