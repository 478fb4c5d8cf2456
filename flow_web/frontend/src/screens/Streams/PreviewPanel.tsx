/**
 * A pipeline's steps run on sample messages by the service (POST
 * .../preview): what comes out, and which samples would be dead-lettered and
 * why. Nothing is written to Kafka or the sink. In the editor the unsaved
 * steps are sent along, so an edit can be tried before it is saved.
 */
import { useState } from "react";
import { ApiError } from "../../api/client";
import { previewPipeline } from "../../api/streams";
import { useApi } from "../../app/services";
import { ErrorBox } from "../../components/ErrorBox";
import { Spinner } from "../../components/Spinner";
import { fieldProblems, problemLines } from "../../lib/problems";
import { parseSamples, type PreviewResult, type StepSpec } from "../../lib/streams";

const EXAMPLE = '{"id": 1, "amount": 12, "country": "KR"}\n{"id": 2, "amount": 3, "country": "KR"}';

export function PreviewPanel({ pipelineId, steps, stepsError }: { pipelineId: string; steps?: StepSpec[] | null; stepsError?: string | null }) {
  const api = useApi();
  const [samples, setSamples] = useState(EXAMPLE);
  const [raw, setRaw] = useState(false);
  const [result, setResult] = useState<PreviewResult | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [inputError, setInputError] = useState<string | null>(null);
  const [running, setRunning] = useState(false);

  const run = async () => {
    setInputError(null);
    setError(null);
    if (stepsError) {
      setInputError(stepsError);
      return;
    }
    const parsed = parseSamples(samples, raw);
    if ("error" in parsed) {
      setInputError(parsed.error);
      return;
    }
    setRunning(true);
    try {
      setResult(await previewPipeline(api, pipelineId, { messages: parsed.messages, raw, ...(steps ? { steps } : {}) }));
    } catch (e) {
      setResult(null);
      setError(e);
    } finally {
      setRunning(false);
    }
  };

  const details = error instanceof ApiError ? problemLines(fieldProblems(error.details)) : [];
  return (
    <div className="card form-section" data-testid="stream-preview">
      <h3>Preview on sample messages</h3>
      <textarea
        className="code-input"
        rows={6}
        value={samples}
        onChange={(event) => setSamples(event.target.value)}
        aria-label="Sample messages"
        spellCheck={false}
      />
      <span className="field-hint">One JSON message per line, or a JSON array. {raw ? "Raw: each line is decoded by the source format." : ""}</span>
      <div className="toolbar">
        <label className="toolbar grow">
          <input type="checkbox" checked={raw} onChange={(event) => setRaw(event.target.checked)} /> raw
        </label>
        <button type="button" className="button primary" onClick={() => void run()} disabled={running}>
          {running ? "Running…" : "Run preview"}
        </button>
      </div>
      {running && <Spinner small label="The service runs the steps…" />}
      {inputError && <div className="inline-error" role="alert">{inputError}</div>}
      {error !== null && <ErrorBox error={error} />}
      {details.length > 0 && <div className="inline-error">{details.join("\n")}</div>}
      {result && (
        <div className="form-section" data-testid="preview-result">
          <div className="muted small-text">
            {result.output.length} out · {result.dead_letters.length} dead-lettered · {result.duration_ms.toFixed(1)} ms
          </div>
          <strong>Output</strong>
          {result.output.length === 0 ? (
            <span className="muted">nothing came out</span>
          ) : (
            <pre className="block" data-testid="preview-output">
              {result.output.map((value) => JSON.stringify(value)).join("\n")}
            </pre>
          )}
          {result.dead_letters.length > 0 && (
            <>
              <strong>Dead letters</strong>
              <ul className="inline-error" data-testid="preview-dead-letters">
                {result.dead_letters.map((letter, index) => (
                  <li key={index}>
                    sample {letter.index + 1} at {letter.stage}: {letter.error.type ? `${letter.error.type}: ` : ""}
                    {letter.error.message}
                  </li>
                ))}
              </ul>
            </>
          )}
        </div>
      )}
    </div>
  );
}
