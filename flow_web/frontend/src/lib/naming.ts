/** Flow names and ids: the server's slug rule (flow_automation/flows/model.py: slugify) and copy names. */

/** "Daily Sales (EU)" -> "daily-sales-eu", as the server derives a flow id from its name. */
export function slugify(name: string): string {
  const ascii = name.normalize("NFKD").replace(/[^\x00-\x7f]/g, "");
  const slug = ascii.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 64).replace(/-+$/g, "");
  return slug || "flow";
}

/** "Sales (copy)", then "Sales (copy 2)", ... : the first name whose id no existing flow has. */
export function duplicateName(name: string, takenIds: Iterable<string>): string {
  const taken = new Set(takenIds);
  const base = name.replace(/ \(copy(?: \d+)?\)$/, "");
  for (let i = 1; ; i++) {
    const candidate = i === 1 ? `${base} (copy)` : `${base} (copy ${i})`;
    if (!taken.has(slugify(candidate))) return candidate;
  }
}
