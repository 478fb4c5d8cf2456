"""What changed between two versions of a flow, in terms people review: nodes, edges, params, triggers.

Nodes are matched by id, so a moved or reconfigured node shows as "changed"
with the fields that differ (``config.query``, ``inputs.table``), not as a
removal plus an addition.
"""

from __future__ import annotations

from typing import Any


def diff_definitions(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    old_nodes = {node["id"]: node for node in old.get("nodes", [])}
    new_nodes = {node["id"]: node for node in new.get("nodes", [])}
    changed_nodes = []
    for node_id in sorted(old_nodes.keys() & new_nodes.keys()):
        fields = _changed_fields(old_nodes[node_id], new_nodes[node_id])
        if fields:
            changed_nodes.append({"id": node_id, "changes": fields})
    old_edges = {(edge["from"], edge["to"]) for edge in old.get("edges", [])}
    new_edges = {(edge["from"], edge["to"]) for edge in new.get("edges", [])}
    top_level = sorted(
        key
        for key in (old.keys() | new.keys()) - {"nodes", "edges", "params", "triggers", "ui"}
        if old.get(key) != new.get(key)
    )
    return {
        "nodes": {
            "added": sorted(new_nodes.keys() - old_nodes.keys()),
            "removed": sorted(old_nodes.keys() - new_nodes.keys()),
            "changed": changed_nodes,
        },
        "edges": {
            "added": [{"from": a, "to": b} for a, b in sorted(new_edges - old_edges)],
            "removed": [{"from": a, "to": b} for a, b in sorted(old_edges - new_edges)],
        },
        "params": _changed_fields(old.get("params", {}), new.get("params", {})),
        "triggers": {"before": old.get("triggers", []), "after": new.get("triggers", [])}
        if old.get("triggers", []) != new.get("triggers", [])
        else None,
        "fields": [{"field": key, "before": old.get(key), "after": new.get(key)} for key in top_level],
        "layout_changed": old.get("ui") != new.get("ui"),
    }


def _changed_fields(old: Any, new: Any, prefix: str = "") -> list[dict[str, Any]]:
    """Leaf-level differences of two JSON values as ``[{field, before, after}]``."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes = []
        for key in sorted(old.keys() | new.keys(), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in old:
                changes.append({"field": path, "before": None, "after": new[key]})
            elif key not in new:
                changes.append({"field": path, "before": old[key], "after": None})
            else:
                changes += _changed_fields(old[key], new[key], path)
        return changes
    if old != new:
        return [{"field": prefix or "(value)", "before": old, "after": new}]
    return []
