/**
 * One run, live: GET /api/v1/runs/{id}, then while the run is queued or
 * running its event stream (api/eventStream.ts) moves tasks along as their
 * events arrive. Events carry states, not outputs, so the run is fetched again
 * (and merged, lib/runLive.ts) shortly after a task ends and when the run does.
 * The last event id survives a retry: the stream of the next attempt resumes
 * where the previous one ended.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import { followEventStream, type StreamStatus } from "../../api/eventStream";
import { getRun, runEventsPath, type RunDetail } from "../../api/runs";
import { useServices } from "../../app/services";
import { applyRunEvent, isFinalEvent, mergeSnapshot, parseRunMessage } from "../../lib/runLive";
import { isRunActive, TASK_TERMINAL } from "../../lib/runStates";

export type LiveStatus = StreamStatus | { kind: "idle" } | { kind: "failed"; error: unknown };

export interface LiveRun {
  run: RunDetail | null;
  loadError: unknown;
  status: LiveStatus;
  /** How many stream events changed the view (the page shows it, tests read it). */
  applied: number;
  /** Merge a run view an action returned (cancel, retry) and follow it again if it is active. */
  accept: (run: RunDetail) => void;
  reload: () => void;
  reconnect: () => void;
}

const REFRESH_DELAY_MS = 400;

export function useLiveRun(runId: string): LiveRun {
  const { api, session } = useServices();
  const [run, setRun] = useState<RunDetail | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [status, setStatus] = useState<LiveStatus>({ kind: "idle" });
  const [applied, setApplied] = useState(0);
  const [generation, setGeneration] = useState(0);
  const lastEventId = useRef<string | null>(null);
  const latestAttempt = useRef(1);
  const refreshTimer = useRef<number | undefined>(undefined);
  const [loadCount, setLoadCount] = useState(0);

  const runRef = useRef<RunDetail | null>(null);
  const commit = useCallback((next: RunDetail | null) => {
    runRef.current = next;
    setRun(next);
  }, []);

  const merge = useCallback(
    (fresh: RunDetail) => {
      latestAttempt.current = Math.max(latestAttempt.current, fresh.attempt);
      const current = runRef.current;
      commit(current && current.id === fresh.id ? mergeSnapshot(current, fresh) : fresh);
    },
    [commit],
  );

  // the run itself (again on reload)
  useEffect(() => {
    const controller = new AbortController();
    setLoadError(null);
    getRun(api, runId, controller.signal)
      .then((fresh) => !controller.signal.aborted && merge(fresh))
      .catch((e: unknown) => !controller.signal.aborted && setLoadError(e));
    return () => controller.abort();
  }, [api, runId, merge, loadCount]);

  // a new run id starts from nothing
  useEffect(() => {
    commit(null);
    setApplied(0);
    setStatus({ kind: "idle" });
    lastEventId.current = null;
    latestAttempt.current = 1;
  }, [runId, commit]);

  const refreshSoon = useCallback(() => {
    window.clearTimeout(refreshTimer.current);
    refreshTimer.current = window.setTimeout(() => {
      getRun(api, runId)
        .then(merge)
        .catch(() => undefined); // the stream goes on; the next refresh catches up
    }, REFRESH_DELAY_MS);
  }, [api, runId, merge]);
  useEffect(() => () => window.clearTimeout(refreshTimer.current), []);

  const active = run !== null && run.id === runId && isRunActive(run.state);

  useEffect(() => {
    if (!active) return;
    const controller = new AbortController();
    followEventStream({
      url: runEventsPath(runId),
      accessToken: () => session.accessToken(),
      refresh: () => session.refresh(),
      lastEventId: lastEventId.current,
      signal: controller.signal,
      onStatus: (next) => !controller.signal.aborted && setStatus(next),
      isFinal: (message) => {
        const item = parseRunMessage(message);
        return item?.type === "event" && isFinalEvent(item.event, latestAttempt.current);
      },
      onMessage: (message) => {
        if (message.id) lastEventId.current = message.id;
        const item = parseRunMessage(message);
        if (!item || controller.signal.aborted) return;
        if (item.type === "snapshot") {
          merge(item.run);
          return;
        }
        const { event } = item;
        if (event.kind === "run") latestAttempt.current = Math.max(latestAttempt.current, event.attempt);
        const current = runRef.current;
        const next = current ? applyRunEvent(current, event) : null;
        if (next) {
          commit(next);
          setApplied((count) => count + 1);
        }
        if ((event.kind === "task" && TASK_TERMINAL.has(event.state)) || (event.kind === "run" && !isRunActive(event.state))) refreshSoon();
      },
    })
      .then((result) => {
        if (result.outcome === "ended") refreshSoon();
      })
      .catch((error: unknown) => !controller.signal.aborted && setStatus({ kind: "failed", error }));
    return () => controller.abort();
  }, [active, runId, session, merge, commit, refreshSoon, generation]);

  // a run that is over has nothing more to stream
  useEffect(() => {
    if (run && run.id === runId && !isRunActive(run.state)) setStatus((current) => (current.kind === "failed" ? current : { kind: "ended" }));
  }, [run, runId]);

  return {
    run: run && run.id === runId ? run : null,
    loadError,
    status,
    applied,
    accept: merge,
    reload: () => setLoadCount((n) => n + 1),
    reconnect: () => setGeneration((n) => n + 1),
  };
}
