/**
 * A pipeline's dead letters, newest first: where each failed (stage, error),
 * where it came from (topic, partition, offset) and the original message;
 * replay the chosen ones, or every one not replayed yet. Replay sends the
 * original bytes through the pipeline again (its replay topic), so fix the
 * pipeline first.
 */
import { Fragment, useCallback, useEffect, useState } from "react";
import { listDeadLetters, replayDeadLetters } from "../../api/streams";
import { useApi } from "../../app/services";
import { usePermissions } from "../../auth/AuthProvider";
import { ErrorBox } from "../../components/ErrorBox";
import { ConfirmDialog } from "../../components/Modal";
import { Spinner } from "../../components/Spinner";
import { useToast } from "../../components/Toasts";
import { deadLetterValue, type DeadLetter, type Pipeline } from "../../lib/streams";
import { absoluteTime, relativeTime } from "../../lib/time";

const LIMITS = [50, 200, 500];
const keyOf = (letter: DeadLetter) => `${letter.dead_letter.partition}:${letter.dead_letter.offset}`;

export function DeadLetters({ pipeline }: { pipeline: Pipeline }) {
  const api = useApi();
  const can = usePermissions();
  const toast = useToast();
  const [limit, setLimit] = useState(LIMITS[0]);
  const [letters, setLetters] = useState<DeadLetter[] | null>(null);
  const [topic, setTopic] = useState(pipeline.dead_letter_topic);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [expanded, setExpanded] = useState<string | null>(null);
  const [replaying, setReplaying] = useState(false);
  const [confirmAll, setConfirmAll] = useState(false);

  const load = useCallback(async () => {
    setLoading(true);
    try {
      const page = await listDeadLetters(api, pipeline.id, { limit });
      setLetters(page.items);
      setTopic(page.topic);
      setError(null);
    } catch (e) {
      setError(e);
    } finally {
      setLoading(false);
    }
  }, [api, pipeline.id, limit]);

  useEffect(() => {
    void load();
  }, [load]);

  const replay = async (all: boolean) => {
    setReplaying(true);
    try {
      const offsets = all
        ? undefined
        : [...selected].map((key) => {
            const [partition, offset] = key.split(":").map(Number);
            return { partition, offset };
          });
      const result = await replayDeadLetters(api, pipeline.id, offsets);
      toast.success(
        `Replayed ${result.replayed} dead letter(s) through ${result.topic}${result.remaining ? `; ${result.remaining} still waiting (replay again)` : ""}`,
      );
      setSelected(new Set());
      setConfirmAll(false);
      await load();
    } catch (e) {
      toast.error(e, "Could not replay");
      setConfirmAll(false);
    } finally {
      setReplaying(false);
    }
  };

  const pending = letters?.filter((letter) => !letter.dead_letter.replayed).length ?? 0;
  const toggle = (key: string) =>
    setSelected((current) => {
      const next = new Set(current);
      if (next.has(key)) next.delete(key);
      else next.add(key);
      return next;
    });

  return (
    <section className="card table-card" data-testid="dead-letters">
      <div className="toolbar" style={{ padding: 12 }}>
        <span className="grow">
          Topic <code>{topic}</code>
          {letters && (
            <span className="muted small-text">
              {" "}
              · {letters.length} shown, {pending} not replayed
            </span>
          )}
        </span>
        <label className="toolbar small-text">
          show
          <select value={limit} onChange={(event) => setLimit(Number(event.target.value))} aria-label="How many dead letters">
            {LIMITS.map((value) => (
              <option key={value} value={value}>
                {value}
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="button small" onClick={() => void load()} disabled={loading}>
          {loading ? "Loading…" : "Refresh"}
        </button>
        {can.editStreams && (
          <>
            <button type="button" className="button small" disabled={selected.size === 0 || replaying} onClick={() => void replay(false)}>
              Replay selected ({selected.size})
            </button>
            <button type="button" className="button small primary" disabled={replaying} onClick={() => setConfirmAll(true)}>
              Replay all not replayed
            </button>
          </>
        )}
      </div>
      {error !== null && <ErrorBox error={error} onRetry={() => void load()} />}
      {letters === null && error === null && (
        <div className="empty">
          <Spinner label="Reading the dead-letter topic…" />
        </div>
      )}
      {letters !== null && letters.length === 0 && <div className="empty">No dead letters: every message went through.</div>}
      {letters !== null && letters.length > 0 && (
        <table className="list" aria-label="Dead letters">
          <thead>
            <tr>
              {can.editStreams && <th aria-label="Select" />}
              <th>Failed</th>
              <th>Stage</th>
              <th>Error</th>
              <th>From</th>
              <th>Message</th>
              <th>Replayed</th>
            </tr>
          </thead>
          <tbody>
            {letters.map((letter) => {
              const key = keyOf(letter);
              const source = letter.source ?? {};
              const value = deadLetterValue(letter);
              return (
                <Fragment key={key}>
                  <tr className={expanded === key ? "expanded" : undefined}>
                    {can.editStreams && (
                      <td>
                        <input type="checkbox" checked={selected.has(key)} onChange={() => toggle(key)} aria-label={`Select dead letter ${key}`} />
                      </td>
                    )}
                    <td title={absoluteTime(letter.failed_at)}>{relativeTime(letter.failed_at)}</td>
                    <td className="small-text">
                      <code>{letter.stage ?? "—"}</code>
                    </td>
                    <td className="wrap small-text">
                      {letter.error?.type && <strong>{letter.error.type}: </strong>}
                      {letter.error?.message}
                    </td>
                    <td className="small-text">
                      {source.topic ? `${source.topic}[${source.partition}] @ ${source.offset}` : "—"}
                    </td>
                    <td className="wrap small-text">
                      <button type="button" className="button small ghost" onClick={() => setExpanded(expanded === key ? null : key)} aria-expanded={expanded === key}>
                        {value.length > 60 ? `${value.slice(0, 60)}…` : value || "(empty)"}
                      </button>
                    </td>
                    <td>{letter.dead_letter.replayed ? <span className="state succeeded">replayed</span> : <span className="muted">no</span>}</td>
                  </tr>
                  {expanded === key && (
                    <tr className="expanded">
                      <td colSpan={can.editStreams ? 7 : 6}>
                        <pre className="block">{value}</pre>
                        <div className="muted small-text">
                          dead-letter partition {letter.dead_letter.partition}, offset {letter.dead_letter.offset}
                          {letter.pipeline_version !== undefined ? ` · pipeline version ${letter.pipeline_version}` : ""}
                        </div>
                      </td>
                    </tr>
                  )}
                </Fragment>
              );
            })}
          </tbody>
        </table>
      )}
      {confirmAll && (
        <ConfirmDialog
          title="Replay every dead letter not replayed yet?"
          confirmLabel="Replay"
          busy={replaying}
          message={
            <p>
              Their original messages go through <strong>{pipeline.name}</strong> again (version {pipeline.version}); those that fail again come back here.
            </p>
          }
          onCancel={() => setConfirmAll(false)}
          onConfirm={() => void replay(true)}
        />
      )}
    </section>
  );
}
