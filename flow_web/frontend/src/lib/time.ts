/** Dates as people read them in lists: "3 min ago", "in 2 h", and full local times in tooltips. */

const UNITS: Array<[number, string]> = [
  [60, "s"],
  [60, "min"],
  [24, "h"],
  [30, "d"],
  [12, "mo"],
  [Number.POSITIVE_INFINITY, "y"],
];

/** "just now", "5 min ago", "in 3 h", "2 d ago" relative to `now`. */
export function relativeTime(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return "—";
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return "—";
  let amount = Math.round((then - now) / 1000);
  const future = amount > 0;
  amount = Math.abs(amount);
  if (amount < 10) return "just now";
  let unit = "s";
  for (const [size, name] of UNITS) {
    unit = name;
    if (amount < size) break;
    amount = Math.floor(amount / size);
  }
  return future ? `in ${amount} ${unit}` : `${amount} ${unit} ago`;
}

/** A full date and time in the browser's locale and zone, for titles and detail panes. */
export function absoluteTime(iso: string | null | undefined): string {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

/** The earliest of ISO times (compared as instants), or null. */
export function earliest(times: readonly string[]): string | null {
  let best: string | null = null;
  for (const time of times) if (best === null || Date.parse(time) < Date.parse(best)) best = time;
  return best;
}
