"""A workflow definition checked before it is saved or published: ``problems`` lists what
is wrong (each naming its node and setting where there is one), ``check`` refuses a
definition with any (a 400 ``WorkflowInvalid`` whose message names the first few).

What is checked, in order: the stored format (pydantic); each node's id (once, not
``sys``), type and settings (the type's ``Settings``); the parents (an iteration); one start
and at least one end at the top; the edges (both ends exist, on one level, leaving by a
handle the source has); each iteration's one inner entry; cycles outside iterations; nodes
unreachable from the start (or from their iteration's entry) and an end no path reaches;
every variable a node reads (produced before it, on every path: by an ancestor, by an
enclosing iteration's ``item``/``index`` or its outer ancestors, or ``sys``; an output the
producer has; of the type the reader needs); human input outside iterations; and what the
nodes name in the workspace (chat models, knowledge bases, tools, published apps).

The modules: ``problems`` (what is found), ``graph`` (the definition's structure),
``structure`` (nodes, parents, start and end, edges, entries, loops, reachability),
``reads`` (the variables nodes read) and ``references`` (the workspace's things).
"""

from typing import Any

from pydantic import ValidationError as PydanticValidationError

from apps.accounts.models import Workspace
from apps.applications.workflow.definition import WorkflowDefinition
from apps.applications.workflow.node_types import NODE_TYPES
from apps.applications.workflow.validation import structure
from apps.applications.workflow.validation.graph import HUMAN_INPUT, ITERATION, Graph
from apps.applications.workflow.validation.problems import (
    Problem,
    Report,
    WorkflowInvalid,
    schema_problems,
)
from apps.applications.workflow.validation.reads import (
    ITERATION_OUTPUTS,
    SYS_OUTPUTS,
    check_reads,
    settings_of,
)
from apps.applications.workflow.validation.references import check_uses

__all__ = [
    "HUMAN_INPUT",
    "ITERATION",
    "ITERATION_OUTPUTS",
    "NAMED_IN_MESSAGE",
    "SYS_OUTPUTS",
    "Problem",
    "WorkflowInvalid",
    "check",
    "parse",
    "problems",
    "variables",
]

#: Problems named in a ``WorkflowInvalid`` message (the check endpoint lists them all).
NAMED_IN_MESSAGE = 5


def check(workspace: Workspace, data: Any) -> WorkflowDefinition:
    """``data`` as a definition, or ``WorkflowInvalid`` naming what is wrong."""
    found = problems(workspace, data)
    if found:
        named = "; ".join(str(p).rstrip(".") for p in found[:NAMED_IN_MESSAGE])
        more = len(found) - NAMED_IN_MESSAGE
        raise WorkflowInvalid(
            f"The workflow is not valid: {named}" + (f"; and {more} more." if more > 0 else ".")
        )
    return parse(data)


def parse(data: Any) -> WorkflowDefinition:
    return data if isinstance(data, WorkflowDefinition) else WorkflowDefinition.model_validate(data)


def problems(workspace: Workspace, data: Any) -> list[Problem]:
    """Everything wrong with ``data`` (a definition, or what should be one)."""
    try:
        definition = parse(data)
    except PydanticValidationError as exc:
        return schema_problems(data, exc)
    return _check_parsed(workspace, definition)


def variables(data: Any) -> dict[str, dict[str, str]]:
    """The variables each node produces, by node id (``sys`` too), with their types; the
    nodes whose type or settings are invalid produce none."""
    try:
        definition = parse(data)
    except PydanticValidationError:
        return {"sys": dict(SYS_OUTPUTS)}
    found: dict[str, dict[str, str]] = {"sys": dict(SYS_OUTPUTS)}
    for node in definition.nodes:
        settings = settings_of(node)
        if settings is not None:
            found[node.id] = dict(NODE_TYPES[node.type].outputs(settings))
    return found


def _check_parsed(workspace: Workspace, definition: WorkflowDefinition) -> list[Problem]:
    """One pass over a parsed definition, its problems in the order they are found."""
    graph, report = Graph(definition), Report()
    structure.check_nodes(graph, report)
    structure.check_parents(graph, report)
    structure.check_start_and_end(graph, report)
    structure.check_edges(graph, report)
    levels = graph.levels()
    entries = {level: structure.entry(graph, report, level) for level in levels}
    acyclic = all([structure.check_cycles(graph, report, level) for level in levels])
    if all(entry is not None for entry in entries.values()):
        for level, entry in entries.items():
            structure.check_reachable(graph, report, level, entry)
        if acyclic:
            for level in levels:
                structure.check_joins(graph, report, level)
            check_reads(graph, report)
    check_uses(graph, report, workspace)
    return report.found
