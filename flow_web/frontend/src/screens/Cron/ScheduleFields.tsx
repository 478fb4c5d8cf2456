/** One schedule of a job: cron, interval or one instant, with its timezone, window and jitter. */
import { Field, Segmented } from "../../components/FormField";
import { describeCron } from "../../lib/cron";
import { INTERVAL_UNITS, type FieldErrors, type IntervalUnit, type ScheduleForm, type ScheduleKind } from "../../lib/cronJobs";

const KINDS = [
  { value: "cron", label: "Cron" },
  { value: "interval", label: "Interval" },
  { value: "at", label: "Once" },
] as const satisfies readonly { value: ScheduleKind; label: string }[];

let zoneCache: string[] | null = null;

/** The IANA zones the browser knows, for the timezone input's suggestions. */
export function timeZones(): string[] {
  if (zoneCache) return zoneCache;
  try {
    zoneCache = ["UTC", ...Intl.supportedValuesOf("timeZone").filter((zone) => zone !== "UTC")];
  } catch {
    zoneCache = ["UTC"];
  }
  return zoneCache;
}

export function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

export function TimeZoneList({ id }: { id: string }) {
  return (
    <datalist id={id}>
      {timeZones().map((zone) => (
        <option key={zone} value={zone} />
      ))}
    </datalist>
  );
}

export function ScheduleFields({
  index,
  schedule,
  errors,
  onChange,
  onRemove,
}: {
  index: number;
  schedule: ScheduleForm;
  errors: FieldErrors;
  onChange: (schedule: ScheduleForm) => void;
  onRemove?: () => void;
}) {
  const prefix = `schedules.${index}`;
  const error = (field: string) => errors[`${prefix}.${field}`];
  const set = (change: Partial<ScheduleForm>) => onChange({ ...schedule, ...change });
  const described = schedule.kind === "cron" ? describeCron(schedule.cron) : null;
  return (
    <div className="sub-card" data-testid={`schedule-${index}`}>
      <div className="sub-card-head">
        <strong className="grow">Schedule {index + 1}</strong>
        <Segmented label={`Kind of schedule ${index + 1}`} value={schedule.kind} options={KINDS} onChange={(kind) => set({ kind })} />
        {onRemove && (
          <button type="button" className="button small ghost" onClick={onRemove} aria-label={`Remove schedule ${index + 1}`}>
            Remove
          </button>
        )}
      </div>
      {errors[prefix] && <div className="inline-error">{errors[prefix]}</div>}
      <div className="form-grid">
        {schedule.kind === "cron" && (
          <Field
            label="Cron expression"
            className="span-2"
            error={error("cron") ?? (described && !described.ok && schedule.cron.trim() ? described.error : null)}
            hint={described?.ok ? <span className="describe-ok">{described.text}</span> : "min hour day month weekday, 6 fields with seconds first, or @daily"}
          >
            <input
              className="code-input"
              value={schedule.cron}
              onChange={(event) => set({ cron: event.target.value })}
              placeholder="0 6 * * *"
              aria-label="Cron expression"
              spellCheck={false}
            />
          </Field>
        )}
        {schedule.kind === "interval" && (
          <>
            <Field label="Every" error={error("every")}>
              <input type="number" min={1} value={schedule.every} onChange={(event) => set({ every: event.target.value })} aria-label="Every" />
            </Field>
            <Field label="Unit">
              <select value={schedule.unit} onChange={(event) => set({ unit: event.target.value as IntervalUnit })} aria-label="Unit">
                {INTERVAL_UNITS.map((unit) => (
                  <option key={unit} value={unit}>
                    {unit}
                  </option>
                ))}
              </select>
            </Field>
          </>
        )}
        {schedule.kind === "at" && (
          <Field label="At" error={error("at")} className="span-2" hint="in the schedule's timezone">
            <input type="datetime-local" step={1} value={schedule.at} onChange={(event) => set({ at: event.target.value })} aria-label="At" />
          </Field>
        )}
        <Field label="Timezone" error={error("timezone")} hint="IANA name">
          <input list="ecron-time-zones" value={schedule.timezone} onChange={(event) => set({ timezone: event.target.value })} aria-label="Timezone" />
        </Field>
        {schedule.kind !== "at" && (
          <>
            <Field label="Start" error={error("start")} hint={schedule.kind === "interval" ? "slots count from here" : "optional"}>
              <input type="datetime-local" step={1} value={schedule.start} onChange={(event) => set({ start: event.target.value })} aria-label="Start" />
            </Field>
            <Field label="End" error={error("end")} hint="optional">
              <input type="datetime-local" step={1} value={schedule.end} onChange={(event) => set({ end: event.target.value })} aria-label="End" />
            </Field>
          </>
        )}
        <Field label="Jitter (s)" error={error("jitter")} hint="random delay up to this">
          <input type="number" min={0} max={3600} value={schedule.jitter} onChange={(event) => set({ jitter: event.target.value })} aria-label="Jitter" />
        </Field>
      </div>
    </div>
  );
}
