/** The node palette: every node type from the registry, by category, with search; drag onto the canvas or click. */
import { useMemo, useState } from "react";
import type { NodeTypeInfo } from "../../api/types";
import { categoryColor } from "./FlowNodeView";

export const NODE_TYPE_MIME = "application/x-dataflow-node-type";

export function Palette({ types, onAdd }: { types: NodeTypeInfo[]; onAdd: (type: NodeTypeInfo) => void }) {
  const [search, setSearch] = useState("");
  const groups = useMemo(() => {
    const needle = search.trim().toLowerCase();
    const matching = types.filter(
      (t) => !needle || t.id.includes(needle) || t.title.toLowerCase().includes(needle) || t.description.toLowerCase().includes(needle),
    );
    const byCategory = new Map<string, NodeTypeInfo[]>();
    for (const type of matching) byCategory.set(type.category, [...(byCategory.get(type.category) ?? []), type]);
    return [...byCategory.entries()].sort(([a], [b]) => a.localeCompare(b));
  }, [types, search]);
  return (
    <aside className="palette" aria-label="Node palette">
      <input type="search" placeholder="Search nodes" aria-label="Search node types" value={search} onChange={(e) => setSearch(e.target.value)} />
      <div className="palette-groups">
        {groups.length === 0 && <p className="muted small-text">No node type matches.</p>}
        {groups.map(([category, items]) => (
          <section key={category} className="palette-group">
            <h3 style={{ color: categoryColor(category) }}>{category}</h3>
            {items.map((type) => (
              <div
                key={type.id}
                className="palette-item"
                draggable
                role="button"
                tabIndex={0}
                data-testid={`palette-${type.id}`}
                title={`${type.description}\n(drag onto the canvas, or click to add)`}
                onDragStart={(event) => {
                  event.dataTransfer.setData(NODE_TYPE_MIME, type.id);
                  event.dataTransfer.effectAllowed = "copy";
                }}
                onClick={() => onAdd(type)}
                onKeyDown={(event) => (event.key === "Enter" || event.key === " ") && onAdd(type)}
                style={{ borderLeftColor: categoryColor(category) }}
              >
                <span className="palette-title">{type.title}</span>
                <span className="palette-id">{type.id}</span>
              </div>
            ))}
          </section>
        ))}
      </div>
    </aside>
  );
}
