/**
 * Paging and cell text for the table previews of task outputs (a preview
 * holds the first rows of a table, engine/outputs.py PREVIEW_ROWS, plus its
 * full row count and column types).
 */

export interface PageSlice<T> {
  rows: T[];
  /** 0-based, clamped into range. */
  page: number;
  pageCount: number;
  /** 1-based positions of the first and last row shown (0 and 0 when empty). */
  from: number;
  to: number;
  total: number;
}

export function pageCount(total: number, pageSize: number): number {
  return Math.max(1, Math.ceil(Math.max(0, total) / Math.max(1, pageSize)));
}

export function pageSlice<T>(rows: readonly T[], page: number, pageSize: number): PageSlice<T> {
  const size = Math.max(1, Math.floor(pageSize));
  const count = pageCount(rows.length, size);
  const current = Math.min(Math.max(0, Math.floor(page)), count - 1);
  const start = current * size;
  const shown = rows.slice(start, start + size);
  return {
    rows: shown,
    page: current,
    pageCount: count,
    from: shown.length > 0 ? start + 1 : 0,
    to: start + shown.length,
    total: rows.length,
  };
}

/** Column names: the preview's own (in order), then any other keys the rows hold. */
export function tableColumns(preview: { columns?: { name: string }[]; head: Record<string, unknown>[] }): string[] {
  const names = (preview.columns ?? []).map((column) => column.name);
  const seen = new Set(names);
  for (const row of preview.head) {
    for (const key of Object.keys(row)) {
      if (!seen.has(key)) {
        seen.add(key);
        names.push(key);
      }
    }
  }
  return names;
}

/** A cell as text: null stays visible as "null", nested values as compact JSON. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}
