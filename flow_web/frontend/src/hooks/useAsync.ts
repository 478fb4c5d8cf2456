import { useCallback, useEffect, useRef, useState } from "react";

export interface AsyncState<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  /** Replace the data locally (after a mutation whose answer is the new state). */
  setData: (data: T) => void;
}

/** Runs `load` when `deps` change (and on reload); the latest call wins, earlier answers are dropped. */
export function useAsync<T>(load: () => Promise<T>, deps: readonly unknown[]): AsyncState<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [generation, setGeneration] = useState(0);
  const latest = useRef(0);
  const run = useCallback(load, deps);
  useEffect(() => {
    const call = ++latest.current;
    setLoading(true);
    run()
      .then((value) => {
        if (call !== latest.current) return;
        setData(value);
        setError(null);
      })
      .catch((e: unknown) => call === latest.current && setError(e))
      .finally(() => call === latest.current && setLoading(false));
  }, [run, generation]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { data, error, loading, reload, setData };
}
