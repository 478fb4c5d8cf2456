/**
 * A task output's preview (engine/outputs.py preview()): a table as a paged
 * grid with its column types, text, JSON, an image, or the size of binary data.
 */
import { useState } from "react";
import type { OutputPreview as Preview } from "../../api/runs";
import { cellText, pageSlice, tableColumns } from "../../lib/tablePaging";

const PAGE_SIZE = 10;

function TableGrid({ name, preview }: { name: string; preview: Extract<Preview, { kind: "table" }> }) {
  const [page, setPage] = useState(0);
  const columns = tableColumns(preview);
  const types = new Map(preview.columns.map((column) => [column.name, column.type]));
  const slice = pageSlice(preview.head, page, PAGE_SIZE);
  const partial = preview.rows > preview.head.length;
  return (
    <div className="preview-table" data-testid={`output-table-${name}`}>
      <div className="preview-grid-wrap">
        <table className="preview-grid">
          <thead>
            <tr>
              <th className="row-number">#</th>
              {columns.map((column) => (
                <th key={column}>
                  {column}
                  {types.get(column) && <span className="column-type">{types.get(column)}</span>}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {slice.rows.map((row, index) => (
              <tr key={slice.from + index}>
                <td className="row-number">{slice.from + index}</td>
                {columns.map((column) => {
                  const value = row[column];
                  return (
                    <td key={column} className={value === null || value === undefined ? "null-cell" : undefined}>
                      {cellText(value)}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div className="preview-pager">
        <button type="button" className="button small" disabled={slice.page === 0} onClick={() => setPage(slice.page - 1)} aria-label="Previous rows">
          ‹ Prev
        </button>
        <span className="small-text" data-testid={`output-table-${name}-range`}>
          Rows {slice.from}–{slice.to} of {partial ? `the first ${preview.head.length} (${preview.rows.toLocaleString()} in all)` : preview.rows}
        </span>
        <button
          type="button"
          className="button small"
          disabled={slice.page >= slice.pageCount - 1}
          onClick={() => setPage(slice.page + 1)}
          aria-label="Next rows"
        >
          Next ›
        </button>
      </div>
    </div>
  );
}

export function OutputPreview({ name, preview }: { name: string; preview: Preview }) {
  switch (preview.kind) {
    case "table":
      return <TableGrid name={name} preview={preview} />;
    case "text":
      return (
        <div>
          <pre className={preview.text ? "preview-text" : "preview-text muted"} data-testid={`output-text-${name}`}>
            {preview.text || "(empty)"}
          </pre>
          {preview.truncated && <p className="muted small-text">The first {preview.text.length.toLocaleString()} of {preview.length.toLocaleString()} characters.</p>}
        </div>
      );
    case "json":
      if ("value" in preview) {
        return (
          <pre className="preview-text" data-testid={`output-json-${name}`}>
            {JSON.stringify(preview.value, null, 2)}
          </pre>
        );
      }
      return (
        <div>
          <pre className="preview-text" data-testid={`output-json-${name}`}>
            {preview.text}
          </pre>
          <p className="muted small-text">The start of a larger JSON value.</p>
        </div>
      );
    case "image":
      return (
        <figure className="preview-image">
          <img src={`data:${preview.media_type};base64,${preview.data_base64}`} alt={`output ${name}`} data-testid={`output-image-${name}`} />
          <figcaption className="muted small-text">
            {preview.media_type}, {preview.size.toLocaleString()} bytes
          </figcaption>
        </figure>
      );
    case "bytes":
      return <p className="muted">{preview.size.toLocaleString()} bytes of binary data (no preview).</p>;
    default:
      return <pre className="preview-text">{JSON.stringify(preview, null, 2)}</pre>;
  }
}
