"""The variables nodes read: each produced before it is read (by an ancestor, an enclosing
iteration's ``item``/``index`` or its outer ancestors, or ``sys``), an output the producer
has, of the type the reader needs; and each iteration's collected ``output``."""

from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from apps.applications.workflow.definition import NodeDefinition
from apps.applications.workflow.node_types import NODE_TYPES
from apps.applications.workflow.nodes.base import REFERENCE
from apps.applications.workflow.validation.graph import ITERATION, Graph
from apps.applications.workflow.validation.problems import Report

#: What ``sys.*`` holds in every run.
SYS_OUTPUTS: dict[str, str] = {"query": "string", "session_id": "string"}
#: What an iteration gives the nodes inside it, each time round.
ITERATION_OUTPUTS: dict[str, str] = {"item": "any", "index": "number"}


def settings_of(node: NodeDefinition) -> BaseModel | None:
    kind = NODE_TYPES.get(node.type)
    if kind is None:
        return None
    try:
        return kind.Settings.model_validate(node.data)
    except PydanticValidationError:
        return None


def outputs(graph: Graph, node_id: str) -> dict[str, str] | None:
    if node_id not in graph.settings:
        return None
    return dict(graph.kind(node_id).outputs(graph.settings[node_id]))


def inner_variables(graph: Graph, iteration: str) -> dict[str, str]:
    """What the nodes inside ``iteration`` read as ``<iteration>.item`` and ``.index``."""
    kind, settings = graph.kind(iteration), graph.settings.get(iteration)
    if settings is not None and hasattr(kind, "inner_variables"):
        return dict(kind.inner_variables(settings))
    return dict(ITERATION_OUTPUTS)


def available(graph: Graph, node_id: str) -> dict[str, dict[str, str] | None]:
    """What ``node_id`` may read: its ancestors' outputs, its iterations' item and index,
    their ancestors' outputs, ``sys``, and (for an iteration) its inner nodes' outputs.
    ``None`` for a node whose settings are invalid (a problem of its own)."""
    found: dict[str, dict[str, str] | None] = {"sys": dict(SYS_OUTPUTS)}
    for position, at in enumerate(graph.enclosing(node_id)):
        if position > 0:
            found[at] = inner_variables(graph, at)
        for ancestor in graph.ancestors(at):
            found[ancestor] = outputs(graph, ancestor)
    if graph.nodes[node_id].type == ITERATION:
        for inner in graph.inside(node_id):
            found[inner] = outputs(graph, inner)
    return found


def check_reads(graph: Graph, report: Report) -> None:
    for node_id, settings in graph.settings.items():
        reads = graph.kind(node_id).reads(settings)
        if reads:
            offered = available(graph, node_id)
            for read in reads:
                check_read(graph, report, node_id, read, offered)
        if graph.nodes[node_id].type == ITERATION:
            check_collected(graph, report, node_id, settings)


def check_collected(graph: Graph, report: Report, iteration: str, settings: Any) -> None:
    """An iteration's ``output`` names an output of a node inside it."""
    collected = getattr(settings, "output", None)
    match = REFERENCE.match(collected or "") if isinstance(collected, str) else None
    if match is None:
        return
    inner, name = match.groups()
    if inner not in graph.nodes or graph.parents[inner] != iteration:
        report.add(
            iteration,
            "data.output",
            f"{collected}: '{inner}' is not a node inside this iteration.",
        )
        return
    produced = outputs(graph, inner)
    if produced is not None and name not in produced:
        offered = ", ".join(sorted(produced)) or "nothing"
        report.add(
            iteration,
            "data.output",
            f"{collected}: '{inner}' has no output '{name}' (it has {offered}).",
        )


def check_read(
    graph: Graph,
    report: Report,
    node_id: str,
    read: Any,
    available: dict[str, dict[str, str] | None],
) -> None:
    setting = read.where or None
    match = REFERENCE.match(read.reference or "")
    if not match:
        report.add(
            node_id, setting, f"'{read.reference}' is not a variable (write node_id.output)."
        )
        return
    producer, name = match.groups()
    if producer not in available:
        if producer == node_id:
            why = "a node cannot read its own outputs"
        elif producer in graph.nodes:
            why = f"no path leads from '{producer}' to this node, so it has not run yet"
        else:
            why = f"there is no node '{producer}'"
        report.add(node_id, setting, f"{read.reference} is used before it is produced: {why}.")
        return
    produced = available[producer]
    if produced is None:
        return
    if name not in produced:
        offered = ", ".join(sorted(produced)) or "nothing"
        report.add(
            node_id,
            setting,
            f"{read.reference}: '{producer}' has no output '{name}' (it has {offered}).",
        )
        return
    type_name = produced[name]
    if "any" not in (read.type, type_name) and read.type != type_name:
        report.add(
            node_id,
            setting,
            f"{read.reference} is {_a(type_name)}; this setting needs {_a(read.type)}.",
        )


def _a(type_name: str) -> str:
    return f"{'an' if type_name[:1] in 'aeiou' else 'a'} {type_name}"
