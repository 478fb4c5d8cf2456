/**
 * The live preview of a job's next fire times: as the schedules change, ecron
 * is asked (POST /api/v1/schedules/preview) once typing pauses; an answer to
 * an older input is dropped, and a 422 shows the parser's own reason.
 */
import { useEffect, useMemo, useRef, useState } from "react";
import { ApiError, errorMessage } from "../../api/client";
import { previewSchedules } from "../../api/ecronJobs";
import { useApi } from "../../app/services";
import { Spinner } from "../../components/Spinner";
import { fireTimeParts, formFieldOf, schedulesForPreview, type FieldErrors, type ScheduleForm } from "../../lib/cronJobs";
import { LatestOnly, debounce } from "../../lib/debounce";
import { fieldProblems, problemLines } from "../../lib/problems";
import { relativeTime } from "../../lib/time";

export const PREVIEW_DELAY_MS = 350;
const PREVIEW_COUNT = 5;

export type PreviewState =
  | { kind: "idle" }
  | { kind: "loading"; previous: string[] | null }
  | { kind: "ok"; times: string[] }
  | { kind: "invalid"; reasons: string[]; fields: FieldErrors }
  | { kind: "error"; message: string };

export function useSchedulePreview(schedules: ScheduleForm[], enabled = true): PreviewState {
  const api = useApi();
  const [state, setState] = useState<PreviewState>({ kind: "idle" });
  const latest = useRef(new LatestOnly());
  const key = JSON.stringify(schedules);

  const ask = useMemo(
    () =>
      debounce((text: string) => {
        const forms = JSON.parse(text) as ScheduleForm[];
        const { schedules: specs, errors } = schedulesForPreview(forms);
        if (!specs) {
          latest.current.cancel();
          setState({ kind: "invalid", reasons: Object.values(errors), fields: errors });
          return;
        }
        const { signal, isCurrent } = latest.current.next();
        setState((current) => ({ kind: "loading", previous: current.kind === "ok" ? current.times : current.kind === "loading" ? current.previous : null }));
        previewSchedules(api, specs, { count: PREVIEW_COUNT }, signal)
          .then((times) => isCurrent() && setState({ kind: "ok", times }))
          .catch((error: unknown) => {
            if (!isCurrent()) return;
            if (error instanceof ApiError && error.status === 422) {
              const problems = fieldProblems(error.details);
              const fields: FieldErrors = {};
              for (const problem of problems) fields[formFieldOf(problem.field)] ??= problem.message;
              setState({ kind: "invalid", reasons: problems.length ? problemLines(problems) : [error.message], fields });
            } else {
              setState({ kind: "error", message: errorMessage(error) });
            }
          });
      }, PREVIEW_DELAY_MS),
    [api],
  );

  useEffect(() => {
    if (!enabled) return;
    ask(key);
  }, [ask, key, enabled]);
  useEffect(() => {
    const current = latest.current;
    return () => {
      ask.cancel();
      current.cancel();
    };
  }, [ask]);
  return state;
}

export function FireTimesList({ times }: { times: string[] }) {
  if (times.length === 0) return <p className="muted">No fire time left: the schedule has ended.</p>;
  return (
    <ol className="fire-times" data-testid="fire-times">
      {times.map((time) => {
        const { wall, offset } = fireTimeParts(time);
        return (
          <li key={time} title={time}>
            <span>
              {wall} <span className="muted small-text">{offset}</span>
            </span>
            <span className="muted small-text">{relativeTime(time)}</span>
          </li>
        );
      })}
    </ol>
  );
}

export function SchedulePreviewPanel({ state }: { state: PreviewState }) {
  return (
    <div className="card" data-testid="schedule-preview" aria-live="polite">
      <h3>
        Next fire times {state.kind === "loading" && <Spinner small label="checking…" />}
      </h3>
      {state.kind === "idle" && <p className="muted">Type a schedule to see when it fires.</p>}
      {state.kind === "loading" && (state.previous ? <FireTimesList times={state.previous} /> : <p className="muted">Asking ecron…</p>)}
      {state.kind === "ok" && <FireTimesList times={state.times} />}
      {state.kind === "invalid" && (
        <div className="inline-error" role="alert" data-testid="preview-error">
          {state.reasons.join("\n")}
        </div>
      )}
      {state.kind === "error" && (
        <div className="inline-error" role="alert" data-testid="preview-error">
          {state.message}
        </div>
      )}
      <p className="muted small-text">Jitter is not applied here; each slot may fire up to its jitter later.</p>
    </div>
  );
}
