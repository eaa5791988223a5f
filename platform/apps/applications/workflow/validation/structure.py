"""The definition's shape: each node's id, type and settings; the parents; one start and an
end at the top; the edges; each iteration's one entry; loops; and what no path reaches.
The checks that fill the ``Graph`` (nodes, parents, edges) run first, in that order."""

from pydantic import ValidationError as PydanticValidationError

from apps.applications.workflow.definition import RESERVED_IDS
from apps.applications.workflow.node_types import NODE_TYPES
from apps.applications.workflow.validation.graph import HUMAN_INPUT, ITERATION, Graph
from apps.applications.workflow.validation.problems import Report, location


def check_nodes(graph: Graph, report: Report) -> None:
    for node in graph.definition.nodes:
        if node.id in RESERVED_IDS:
            report.add(node.id, None, f"'{node.id}' is reserved; give the node another id.")
            continue
        if node.id in graph.nodes:
            report.add(node.id, None, f"two nodes have the id '{node.id}'.")
            continue
        graph.nodes[node.id] = node
        graph.parents[node.id] = node.parent
        kind = NODE_TYPES.get(node.type)
        if kind is None:
            known = ", ".join(sorted(NODE_TYPES))
            report.add(node.id, "type", f"no node type '{node.type}' (known: {known}).")
            continue
        try:
            graph.settings[node.id] = kind.Settings.model_validate(node.data)
        except PydanticValidationError as exc:
            for error in exc.errors():
                where = location(error["loc"])
                report.add(node.id, f"data.{where}" if where else "data", error["msg"])


def check_parents(graph: Graph, report: Report) -> None:
    for node in list(graph.nodes.values()):
        if node.parent is None:
            continue
        parent = graph.nodes.get(node.parent)
        if parent is None or parent.type != ITERATION:
            report.add(node.id, "parent", f"'{node.parent}' is not an iteration node here.")
            graph.parents[node.id] = None  # checked further as a top-level node
        elif node.type == HUMAN_INPUT:
            report.add(node.id, "parent", "a human input node cannot be inside an iteration.")
        elif node.type == "start":
            report.add(node.id, "parent", "a start node cannot be inside an iteration.")
        elif node.type == "end":
            report.add(node.id, "parent", "an end node cannot be inside an iteration.")
    for node in graph.nodes.values():
        if node.id in graph.enclosing(node.id)[1:]:
            report.add(node.id, "parent", "an iteration cannot be inside itself.")
            graph.parents[node.id] = None


def check_start_and_end(graph: Graph, report: Report) -> None:
    top = [graph.nodes[i] for i in graph.children(None)]
    starts = [n.id for n in top if n.type == "start"]
    if not starts:
        report.add(None, None, "the workflow needs a start node.")
    for extra in starts[1:]:
        report.add(extra, None, f"a second start node (the start is '{starts[0]}').")
    if not any(n.type == "end" for n in top):
        report.add(None, None, "the workflow needs at least one end node.")


def check_edges(graph: Graph, report: Report) -> None:
    seen: set[tuple[str, str, str]] = set()
    for edge in graph.definition.edges:
        label = f"edge {edge.source} → {edge.target}"
        missing = [end for end in (edge.source, edge.target) if end not in graph.nodes]
        if missing:
            named = edge.source if edge.source in graph.nodes else None
            report.add(named, None, f"{label} leads to no node '{missing[0]}'.")
            continue
        if graph.level_of(edge.source) != graph.level_of(edge.target):
            report.add(
                edge.source,
                None,
                f"{label} crosses an iteration's boundary (connect nodes inside an "
                "iteration to each other only).",
            )
            continue
        settings = graph.settings.get(edge.source)
        if settings is not None:
            handles = graph.kind(edge.source).handles(settings)
            if edge.source_handle not in handles:
                offered = ", ".join(handles) or "none: nothing follows it"
                report.add(
                    edge.source,
                    None,
                    f"{label} leaves by '{edge.source_handle}', a handle the node does not "
                    f"have (it has {offered}).",
                )
        if edge.target == edge.source:
            report.add(edge.source, None, f"{label} leads back to the node itself.")
            continue
        key = (edge.source, edge.target, edge.source_handle)
        if key not in seen:
            seen.add(key)
            graph.edges.append(edge)


def entry(graph: Graph, report: Report, level: str | None) -> str | None:
    """Where a level begins: the start, or an iteration's one inner node no edge enters."""
    if level is None:
        starts = graph.starts()
        return starts[0] if starts else None
    entries = graph.unentered(level)
    if not graph.children(level):
        report.add(level, None, "the iteration has no nodes inside.")
        return None
    if len(entries) != 1:
        named = ", ".join(entries) if entries else "none: every inner node is entered"
        report.add(
            level,
            None,
            f"an iteration needs exactly one inner node that no edge enters (found {named}).",
        )
        return None
    return entries[0]


def check_cycles(graph: Graph, report: Report, level: str | None) -> bool:
    loop = graph.loop(level)
    if loop:
        report.add(
            loop[0],
            None,
            "the edges make a loop ("
            + " → ".join(dict.fromkeys(loop))
            + f" → {loop[0]}); repeat work with an iteration instead.",
        )
        return False
    return True


def check_reachable(graph: Graph, report: Report, level: str | None, entry: str) -> None:
    seen = graph.reachable(level, entry)
    for node_id in graph.children(level):
        if node_id not in seen:
            where = "the start" if level is None else f"the entry of iteration '{level}'"
            report.add(node_id, None, f"no path from {where} reaches this node.")
    if level is None:
        ends = [i for i in graph.children(None) if graph.nodes[i].type == "end"]
        if ends and not any(end in seen for end in ends):
            report.add(None, None, "no path from the start reaches an end node.")


def check_joins(graph: Graph, report: Report, level: str | None) -> None:
    """Branches that run side by side (one handle leading to several nodes) must meet again
    after as many steps along every way: LangGraph starts a node whenever an edge into it
    delivers, so a node reached at different steps would run once per step (an end node
    answering twice). Branches after a condition or a classifier are exclusive: one runs."""
    successors = graph.successors(level)
    predecessors: dict[str, list[str]] = {node_id: [] for node_id in successors}
    for source, targets in successors.items():
        for target in targets:
            predecessors[target].append(source)
    order = _topological(successors, predecessors)
    flagged: set[str] = set()
    for fork in _forks(graph, level):
        steps: dict[str, set[int]] = {fork: {0}}
        for node_id in order[order.index(fork) + 1 :]:
            before = [p for p in predecessors[node_id] if p in steps]
            if before:
                steps[node_id] = {n + 1 for p in before for n in steps[p]}
            if len(before) > 1 and len(steps.get(node_id, ())) > 1 and node_id not in flagged:
                flagged.add(node_id)
                counts = ", ".join(str(n) for n in sorted(steps[node_id]))
                report.add(
                    node_id,
                    None,
                    f"branches that part at '{fork}' and run side by side meet here after "
                    f"different numbers of steps ({counts}), so this node would run once for "
                    "each; give the branches as many nodes each, or chain them.",
                )


def _forks(graph: Graph, level: str | None) -> list[str]:
    """The nodes with a handle that leads to more than one node."""
    targets: dict[tuple[str, str], set[str]] = {}
    for edge in graph.edges_within(level):
        targets.setdefault((edge.source, edge.source_handle), set()).add(edge.target)
    return list(dict.fromkeys(source for (source, _), found in targets.items() if len(found) > 1))


def _topological(successors: dict[str, list[str]], predecessors: dict[str, list[str]]) -> list[str]:
    waiting = {node_id: len(set(before)) for node_id, before in predecessors.items()}
    ready = [node_id for node_id, count in waiting.items() if count == 0]
    order: list[str] = []
    while ready:
        node_id = ready.pop(0)
        order.append(node_id)
        for target in dict.fromkeys(successors[node_id]):
            waiting[target] -= 1
            if waiting[target] == 0:
                ready.append(target)
    return order
