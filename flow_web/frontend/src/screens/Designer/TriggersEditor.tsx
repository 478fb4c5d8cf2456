/**
 * The flow's triggers: cron (described in words, with the next fire times
 * from ecron's preview), webhook (its URL once saved, with a copy button) and
 * Kafka topic.
 */
import { useEffect, useState } from "react";
import { errorMessage } from "../../api/client";
import { previewFireTimes } from "../../api/ecron";
import type { CronTrigger, KafkaTrigger, Trigger, TriggerState } from "../../api/types";
import { useApi } from "../../app/services";
import { usePermissions } from "../../auth/AuthProvider";
import { Spinner } from "../../components/Spinner";
import { useToast } from "../../components/Toasts";
import { describeCron } from "../../lib/cron";
import type { DesignDoc } from "../../lib/flowDoc";
import { absoluteTime } from "../../lib/time";

const PREVIEW_DELAY_MS = 400;

function CronPreview({ cron, timezone }: { cron: string; timezone: string }) {
  const api = useApi();
  const can = usePermissions();
  const [times, setTimes] = useState<string[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const description = describeCron(cron);
  useEffect(() => {
    setTimes(null);
    setError(null);
    if (!description.ok || !can.readCron) return;
    const controller = new AbortController();
    const timer = window.setTimeout(() => {
      previewFireTimes(api, [{ cron, timezone }], 5, controller.signal)
        .then(setTimes)
        .catch((e: unknown) => !controller.signal.aborted && setError(errorMessage(e)));
    }, PREVIEW_DELAY_MS);
    return () => {
      window.clearTimeout(timer);
      controller.abort();
    };
  }, [api, cron, timezone, description.ok, can.readCron]);
  return (
    <div className="cron-preview" data-testid="cron-preview">
      {description.ok ? <div className="cron-description">{description.text}</div> : <div className="field-error">{description.error}</div>}
      {error && <div className="field-error">{error}</div>}
      {description.ok && !error && times === null && can.readCron && <Spinner small label="next fire times…" />}
      {times && (
        <ol className="fire-times" aria-label="Next fire times">
          {times.map((time) => (
            <li key={time} title={time}>
              {absoluteTime(time)}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

function WebhookUrl({ state }: { state: TriggerState | undefined }) {
  const toast = useToast();
  if (!state?.url) return <p className="muted small-text">Save the flow to get this webhook's URL.</p>;
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(state.url!);
      toast.success("Webhook URL copied");
    } catch {
      toast.info("Select the URL and copy it (the browser refused clipboard access)");
    }
  };
  return (
    <div className="field-row">
      <input className="grow mono" readOnly value={state.url} aria-label="Webhook URL" onFocus={(e) => e.target.select()} />
      <button type="button" className="button small" onClick={() => void copy()}>
        Copy
      </button>
    </div>
  );
}

export function TriggersEditor({ doc, savedTriggers, readOnly, onEdit }: {
  doc: DesignDoc;
  /** The saved flow's trigger state (webhook URLs, cron job status), by trigger index. */
  savedTriggers: TriggerState[];
  readOnly: boolean;
  onEdit: (doc: DesignDoc, group?: string) => void;
}) {
  const set = (index: number, trigger: Trigger, group: string) =>
    onEdit({ ...doc, triggers: doc.triggers.map((t, i) => (i === index ? trigger : t)) }, `trigger:${index}:${group}`);
  const remove = (index: number) => onEdit({ ...doc, triggers: doc.triggers.filter((_, i) => i !== index) });
  const add = (trigger: Trigger) => onEdit({ ...doc, triggers: [...doc.triggers, trigger] });
  return (
    <div className="triggers-editor" data-testid="triggers-editor">
      {doc.triggers.length === 0 && <p className="muted small-text">No triggers: the flow runs when someone starts it.</p>}
      {doc.triggers.map((trigger, index) => {
        const state = savedTriggers.find((s) => s.index === index && s.type === trigger.type);
        return (
          <div key={index} className="param-card" data-testid={`trigger-${index}`}>
            <div className="field-row">
              <strong className="grow">{trigger.type === "cron" ? "Cron schedule" : trigger.type === "webhook" ? "Webhook" : "Kafka topic"}</strong>
              {state && <span className={`state ${state.status === "active" ? "succeeded" : state.status === "error" ? "failed" : ""}`} title={state.message ?? ""}>{state.status}</span>}
              <label className="checkbox">
                <input type="checkbox" checked={trigger.enabled ?? true} disabled={readOnly} onChange={(e) => set(index, { ...trigger, enabled: e.target.checked }, "enabled")} />
                enabled
              </label>
              {!readOnly && (
                <button type="button" className="button small" onClick={() => remove(index)}>
                  Remove
                </button>
              )}
            </div>
            {trigger.type === "cron" && <CronFields trigger={trigger} readOnly={readOnly} onChange={(t, group) => set(index, t, group)} />}
            {trigger.type === "webhook" && <WebhookUrl state={state} />}
            {trigger.type === "kafka" && <KafkaFields trigger={trigger} readOnly={readOnly} onChange={(t, group) => set(index, t, group)} />}
          </div>
        );
      })}
      {!readOnly && (
        <div className="field-row">
          <button type="button" className="button" onClick={() => add({ type: "cron", cron: "0 6 * * *", timezone: "UTC" })}>
            + Cron
          </button>
          <button type="button" className="button" onClick={() => add({ type: "webhook" })}>
            + Webhook
          </button>
          <button type="button" className="button" onClick={() => add({ type: "kafka", topic: "" })}>
            + Kafka topic
          </button>
        </div>
      )}
    </div>
  );
}

function CronFields({ trigger, readOnly, onChange }: { trigger: CronTrigger; readOnly: boolean; onChange: (t: CronTrigger, group: string) => void }) {
  return (
    <>
      <div className="field-row">
        <label className="field grow">
          Cron expression
          <input className="mono" value={trigger.cron} disabled={readOnly} aria-label="Cron expression" onChange={(e) => onChange({ ...trigger, cron: e.target.value }, "cron")} />
        </label>
        <label className="field">
          Time zone
          <input value={trigger.timezone ?? "UTC"} disabled={readOnly} aria-label="Time zone" onChange={(e) => onChange({ ...trigger, timezone: e.target.value }, "timezone")} />
        </label>
      </div>
      <CronPreview cron={trigger.cron} timezone={trigger.timezone || "UTC"} />
    </>
  );
}

function KafkaFields({ trigger, readOnly, onChange }: { trigger: KafkaTrigger; readOnly: boolean; onChange: (t: KafkaTrigger, group: string) => void }) {
  return (
    <>
      <label className="field">
        Topic
        <input className="mono" value={trigger.topic} disabled={readOnly} aria-label="Kafka topic" onChange={(e) => onChange({ ...trigger, topic: e.target.value }, "topic")} />
      </label>
      <div className="field-row">
        <label className="field grow">
          Consumer group
          <input value={trigger.group ?? ""} placeholder="dataflow.trigger.<flow>" disabled={readOnly} onChange={(e) => onChange({ ...trigger, group: e.target.value || null }, "group")} />
        </label>
        <label className="field grow">
          Dedupe key
          <input value={trigger.dedupe_key ?? ""} placeholder="topic, partition and offset" disabled={readOnly} onChange={(e) => onChange({ ...trigger, dedupe_key: e.target.value || null }, "dedupe")} />
        </label>
      </div>
      <p className="muted small-text">One run per message; a JSON object message becomes the run's params.</p>
    </>
  );
}
