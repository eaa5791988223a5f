"""A parsed definition's structure as the checks read it: the nodes (first of each id),
their settings, their iterations (``parents``), the edges kept, and what follows from them:
levels, entries, successors, ancestors, reachability and loops."""

from dataclasses import dataclass, field
from typing import Any

from apps.applications.workflow.definition import (
    EdgeDefinition,
    NodeDefinition,
    WorkflowDefinition,
)
from apps.applications.workflow.node_types import NODE_TYPES
from apps.applications.workflow.nodes.base import Node

ITERATION = "iteration"
HUMAN_INPUT = "human_input"


@dataclass
class Graph:
    definition: WorkflowDefinition
    #: The first node of each id (a duplicate is a problem of its own).
    nodes: dict[str, NodeDefinition] = field(default_factory=dict)
    #: Parsed settings of the nodes whose type is known and settings valid.
    settings: dict[str, Any] = field(default_factory=dict)
    #: Each node's iteration (``None`` at the top), once checked.
    parents: dict[str, str | None] = field(default_factory=dict)
    #: Edges whose both ends exist on one level.
    edges: list[EdgeDefinition] = field(default_factory=list)

    def kind(self, node_id: str) -> Node:
        return NODE_TYPES[self.nodes[node_id].type]

    def levels(self) -> list[str | None]:
        """The top (``None``) and each iteration."""
        return [None, *(n.id for n in self.nodes.values() if n.type == ITERATION)]

    def enclosing(self, node_id: str) -> list[str]:
        """``node_id`` and the iterations around it, innermost first (stops at a loop)."""
        chain = [node_id]
        parent = self.parents[node_id]
        while parent is not None and parent in self.nodes and parent not in chain:
            chain.append(parent)
            parent = self.parents[parent]
        if parent is not None and parent in chain:
            chain.append(parent)
        return chain

    def level_of(self, node_id: str) -> str | None:
        return self.parents[node_id]

    def children(self, level: str | None) -> list[str]:
        return [i for i, parent in self.parents.items() if parent == level]

    def inside(self, iteration: str) -> list[str]:
        """The nodes inside ``iteration``, at any depth."""
        return [i for i in self.nodes if i != iteration and iteration in self.enclosing(i)[1:]]

    def edges_within(self, level: str | None) -> list[EdgeDefinition]:
        return [e for e in self.edges if self.level_of(e.source) == level]

    def starts(self) -> list[str]:
        return [i for i in self.children(None) if self.nodes[i].type == "start"]

    def unentered(self, level: str | None) -> list[str]:
        """The nodes of ``level`` that no edge enters."""
        entered = {e.target for e in self.edges_within(level)}
        return [i for i in self.children(level) if i not in entered]

    def successors(self, level: str | None) -> dict[str, list[str]]:
        graph: dict[str, list[str]] = {i: [] for i in self.children(level)}
        for edge in self.edges_within(level):
            graph[edge.source].append(edge.target)
        return graph

    def reachable(self, level: str | None, entry: str) -> set[str]:
        graph = self.successors(level)
        seen, todo = {entry}, [entry]
        while todo:
            for target in graph[todo.pop()]:
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        return seen

    def ancestors(self, node_id: str) -> set[str]:
        """The nodes of ``node_id``'s level with a path to it."""
        level = self.level_of(node_id)
        before: dict[str, list[str]] = {}
        for edge in self.edges_within(level):
            before.setdefault(edge.target, []).append(edge.source)
        seen: set[str] = set()
        todo = [node_id]
        while todo:
            for source in before.get(todo.pop(), []):
                if source not in seen:
                    seen.add(source)
                    todo.append(source)
        seen.discard(node_id)
        return seen

    def loop(self, level: str | None) -> list[str] | None:
        """The first loop the edges of ``level`` make (its nodes in order), or ``None``."""
        graph = self.successors(level)
        state: dict[str, int] = {}  # 1: on the path, 2: done

        def visit(node_id: str, path: list[str]) -> list[str] | None:
            state[node_id] = 1
            for target in graph[node_id]:
                if state.get(target) == 1:
                    return (
                        [*path[path.index(target) :], node_id, target]
                        if target in path
                        else [
                            node_id,
                            target,
                        ]
                    )
                if target not in state:
                    loop = visit(target, [*path, node_id])
                    if loop:
                        return loop
            state[node_id] = 2
            return None

        for node_id in graph:
            if node_id not in state:
                loop = visit(node_id, [])
                if loop:
                    return loop
        return None
