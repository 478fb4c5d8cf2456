"""The DAG of a flow: who depends on whom, in which order, and where a cycle is.

Dependencies come from two places: data inputs (``"<node>.<output>"``) and
order-only ``edges``. Both mean "runs after"; only data inputs carry values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flow_automation.flows.model import FlowDefinition, parse_reference


@dataclass
class FlowGraph:
    upstream: dict[str, list[str]] = field(default_factory=dict)
    downstream: dict[str, list[str]] = field(default_factory=dict)
    #: (source, target) pairs added so far: a join of a thousand upstreams is not searched a thousand times.
    _edges: set[tuple[str, str]] = field(default_factory=set, repr=False, compare=False)

    @classmethod
    def of(cls, flow: FlowDefinition) -> FlowGraph:
        """The graph of ``flow``; references to unknown nodes are left out (validation reports them)."""
        ids = {node.id for node in flow.nodes}
        graph = cls({node_id: [] for node_id in ids}, {node_id: [] for node_id in ids})
        for node in flow.nodes:
            for reference in node.inputs.values():
                parsed = parse_reference(reference)
                if parsed and parsed[0] != "params" and parsed[0] in ids:
                    graph.add(parsed[0], node.id)
        for edge in flow.edges:
            if edge.source in ids and edge.target in ids:
                graph.add(edge.source, edge.target)
        return graph

    def add(self, source: str, target: str) -> None:
        if (source, target) not in self._edges:
            self._edges.add((source, target))
            self.upstream[target].append(source)
            self.downstream[source].append(target)

    def roots(self) -> list[str]:
        return [node for node, ups in self.upstream.items() if not ups]

    def sinks(self) -> list[str]:
        return [node for node, downs in self.downstream.items() if not downs]

    def find_cycle(self) -> list[str] | None:
        """The members of one cycle in path order (``a -> b -> a`` gives ``[a, b]``), or ``None``."""
        white, grey, black = 0, 1, 2
        colour = dict.fromkeys(self.downstream, white)
        for start in sorted(self.downstream):
            if colour[start] != white:
                continue
            path: list[str] = []
            stack: list[tuple[str, int]] = [(start, 0)]
            while stack:
                node, index = stack.pop()
                if index == 0:
                    colour[node] = grey
                    path.append(node)
                children = self.downstream[node]
                if index < len(children):
                    stack.append((node, index + 1))
                    child = children[index]
                    if colour[child] == grey:
                        return path[path.index(child) :]
                    if colour[child] == white:
                        stack.append((child, 0))
                else:
                    colour[node] = black
                    path.pop()
        return None

    def descendants(self, nodes: list[str]) -> set[str]:
        seen: set[str] = set()
        todo = list(nodes)
        while todo:
            for child in self.downstream[todo.pop()]:
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
        return seen
