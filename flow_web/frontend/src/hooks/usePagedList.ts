import { useCallback, useEffect, useState, type Dispatch, type SetStateAction } from "react";
import type { Page } from "../api/types";

export interface PagedList<T> {
  /** The pages loaded so far (null until the first arrives). */
  items: T[] | null;
  /** Change the list locally (after a mutation whose answer is the new state). */
  setItems: Dispatch<SetStateAction<T[] | null>>;
  error: unknown;
  loading: boolean;
  /** Counts reloads, for what else should follow them. */
  generation: number;
  reload: () => void;
  hasMore: boolean;
  /** Append the next page; a failure goes to `onMoreError`, the list stays as it is. */
  loadMore: () => Promise<void>;
}

/**
 * A cursor-paginated list: the first page when `deps` change or on reload (a late
 * answer to an older load is dropped), further pages on demand.
 */
export function usePagedList<T>(
  fetchPage: (cursor?: string) => Promise<Page<T>>,
  deps: readonly unknown[],
  onMoreError: (error: unknown) => void,
): PagedList<T> {
  const [items, setItems] = useState<T[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [generation, setGeneration] = useState(0);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);

  useEffect(() => {
    let current = true;
    setLoading(true);
    fetchPage()
      .then((page) => {
        if (!current) return;
        setItems(page.items);
        setCursor(page.next_cursor);
        setError(null);
      })
      .catch((e: unknown) => current && setError(e))
      .finally(() => current && setLoading(false));
    return () => {
      current = false;
    };
    // The caller names what the fetch depends on (`deps`), as with useEffect.
  }, [...deps, generation]);

  const loadMore = async () => {
    if (!cursor || !items) return;
    try {
      const page = await fetchPage(cursor);
      setItems([...items, ...page.items]);
      setCursor(page.next_cursor);
    } catch (e) {
      onMoreError(e);
    }
  };

  return { items, setItems, error, loading, generation, reload, hasMore: cursor !== null, loadMore };
}
