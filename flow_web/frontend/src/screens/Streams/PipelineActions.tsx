/** Start, stop, edit and delete (with confirmation) a pipeline; shared by the list and a pipeline's page. */
import { useState } from "react";
import { Link } from "react-router";
import { deletePipeline, startPipeline, stopPipeline } from "../../api/streams";
import { useApi } from "../../app/services";
import { usePermissions } from "../../auth/AuthProvider";
import { ConfirmDialog } from "../../components/Modal";
import { useToast } from "../../components/Toasts";
import type { Pipeline } from "../../lib/streams";

export function PipelineActions({
  pipeline,
  small,
  onChanged,
  onDeleted,
}: {
  pipeline: Pipeline;
  small?: boolean;
  onChanged: (pipeline: Pipeline) => void;
  onDeleted: () => void;
}) {
  const api = useApi();
  const can = usePermissions();
  const toast = useToast();
  const [busy, setBusy] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  if (!can.editStreams) return null;
  const size = small ? "button small" : "button";
  const running = pipeline.state === "running";

  const toggle = async () => {
    setBusy("state");
    try {
      const changed = running ? await stopPipeline(api, pipeline.id) : await startPipeline(api, pipeline.id);
      toast.success(changed.state === "running" ? `Started ${pipeline.name}; workers pick it up within a second` : `Stopping ${pipeline.name}; workers finish their batch`);
      onChanged(changed);
    } catch (e) {
      toast.error(e, `Could not ${running ? "stop" : "start"} ${pipeline.name}`);
    } finally {
      setBusy(null);
    }
  };
  const remove = async () => {
    setBusy("delete");
    try {
      await deletePipeline(api, pipeline.id);
      toast.success(`Deleted ${pipeline.name}`);
      setConfirming(false);
      onDeleted();
    } catch (e) {
      toast.error(e, `Could not delete ${pipeline.name}`);
      setConfirming(false);
    } finally {
      setBusy(null);
    }
  };

  return (
    <>
      <button
        type="button"
        className={running ? size : `${size} primary`}
        onClick={() => void toggle()}
        disabled={busy !== null}
        aria-label={`${running ? "Stop" : "Start"} ${pipeline.name}`}
      >
        {busy === "state" ? (running ? "Stopping…" : "Starting…") : running ? "Stop" : "Start"}
      </button>{" "}
      <Link className={size} to={`/streams/${encodeURIComponent(pipeline.id)}/edit`} aria-label={`Edit ${pipeline.name}`}>
        Edit
      </Link>{" "}
      <button type="button" className={size} onClick={() => setConfirming(true)} disabled={busy !== null} aria-label={`Delete ${pipeline.name}`}>
        Delete
      </button>
      {confirming && (
        <ConfirmDialog
          title={`Delete ${pipeline.name}?`}
          danger
          busy={busy === "delete"}
          confirmLabel="Delete"
          message={
            <p>
              The pipeline's definition is deleted{running ? " and its workers stop" : ""}. Its topics, including the dead-letter topic{" "}
              <code>{pipeline.dead_letter_topic}</code>, stay.
            </p>
          }
          onCancel={() => setConfirming(false)}
          onConfirm={() => void remove()}
        />
      )}
    </>
  );
}
