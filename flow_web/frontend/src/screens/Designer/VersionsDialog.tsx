/**
 * A flow's saved versions: what each changed (the server's diff against the
 * version before it), what differs from the design open now, and restore.
 */
import { useEffect, useState } from "react";
import { diffVersions, getVersion, listVersions } from "../../api/flows";
import type { VersionDetail, VersionSummary } from "../../api/types";
import { useApi } from "../../app/services";
import { ErrorBox } from "../../components/ErrorBox";
import { Modal } from "../../components/Modal";
import { Spinner } from "../../components/Spinner";
import { useAsync } from "../../hooks/useAsync";
import { describeDiff, diffDefinitions, type DiffLine, type FlowDiff } from "../../lib/diff";
import { type DesignDoc, normalizeDefinition, toDefinition } from "../../lib/flowDoc";
import { absoluteTime } from "../../lib/time";

function DiffLines({ lines, empty }: { lines: DiffLine[]; empty: string }) {
  if (lines.length === 0) return <p className="muted">{empty}</p>;
  return (
    <ul className="diff-lines">
      {lines.map((line, index) => (
        <li key={index} className={`diff-${line.kind}`}>
          {line.kind === "added" ? "+ " : line.kind === "removed" ? "− " : "~ "}
          {line.text}
        </li>
      ))}
    </ul>
  );
}

export function VersionsDialog({ flowId, current, canRestore, onRestore, onClose }: {
  flowId: string;
  current: DesignDoc;
  canRestore: boolean;
  onRestore: (version: VersionDetail) => void;
  onClose: () => void;
}) {
  const api = useApi();
  const versions = useAsync(() => listVersions(api, flowId), [api, flowId]);
  const [selected, setSelected] = useState<VersionSummary | null>(null);
  const [detail, setDetail] = useState<{ version: VersionDetail; changes: FlowDiff | null } | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    if (!selected && versions.data?.items.length) setSelected(versions.data.items[0]);
  }, [versions.data, selected]);

  useEffect(() => {
    if (!selected) return;
    let active = true;
    setDetail(null);
    setError(null);
    Promise.all([
      getVersion(api, flowId, selected.version),
      selected.version > 1 ? diffVersions(api, flowId, selected.version - 1, selected.version).then((d) => d.changes) : Promise.resolve(null),
    ])
      .then(([version, changes]) => active && setDetail({ version, changes }))
      .catch((e: unknown) => active && setError(e));
    return () => {
      active = false;
    };
  }, [api, flowId, selected]);

  return (
    <Modal title="Version history" onClose={onClose} wide>
      {versions.error !== null && <ErrorBox error={versions.error} onRetry={versions.reload} />}
      {versions.loading && !versions.data && <Spinner label="Loading versions…" />}
      {versions.data && (
        <div className="versions">
          <ul className="version-list" aria-label="Versions">
            {versions.data.items.map((version) => (
              <li key={version.version}>
                <button
                  type="button"
                  className={selected?.version === version.version ? "version-item active" : "version-item"}
                  onClick={() => setSelected(version)}
                >
                  <strong>v{version.version}</strong>
                  <span className="muted small-text">
                    {absoluteTime(version.created_at)}
                    {version.created_by ? ` · ${version.created_by}` : ""}
                  </span>
                </button>
              </li>
            ))}
          </ul>
          <div className="version-detail" data-testid="version-detail">
            {error !== null && <ErrorBox error={error} />}
            {selected && !detail && error === null && <Spinner label="Loading…" />}
            {detail && (
              <>
                <h3>Changes in v{detail.version.version}</h3>
                {detail.changes ? (
                  <DiffLines lines={describeDiff(detail.changes)} empty="Same definition as the version before." />
                ) : (
                  <p className="muted">The first version.</p>
                )}
                <h3>Restoring it would change the design open now</h3>
                <DiffLines
                  lines={describeDiff(diffDefinitions(normalizeDefinition(toDefinition(current)), normalizeDefinition(detail.version.definition)))}
                  empty="The design open now is this version."
                />
                {canRestore && (
                  <div className="modal-actions">
                    <button type="button" className="button primary" onClick={() => onRestore(detail.version)}>
                      Restore v{detail.version.version}
                    </button>
                  </div>
                )}
              </>
            )}
          </div>
        </div>
      )}
    </Modal>
  );
}
