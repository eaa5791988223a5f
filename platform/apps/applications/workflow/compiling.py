"""A workflow definition (checked by ``validation``) compiled to a LangGraph ``StateGraph``:
one graph node per workflow node, edges by handle, and a router after each node that
branches. An iteration's inside is compiled the same way, as its own graph.

Compiled graphs are kept by the definition's content, so a published version compiles
once per process; a run that may pause gets a copy that carries the Postgres checkpointer.
"""

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer
from langgraph.errors import GraphBubbleUp
from langgraph.graph import END, START, StateGraph

from apps.applications.events import NodeFinished, NodeStarted
from apps.applications.models import StepKind
from apps.applications.recording import current_node, ms_since
from apps.applications.workflow.definition import NEXT, NodeDefinition, WorkflowDefinition
from apps.applications.workflow.engine import (
    Deadline,
    FlowState,
    RunCancelled,
    RunContext,
)
from apps.applications.workflow.node_types import node_type
from apps.applications.workflow.nodes.base import Node, NodeContext, NodeResult
from apps.applications.workflow.shared_connection import borrowed_connection, waiting
from kernel.errors import ApiError
from plugins.base import UpstreamError

_COMPILED: OrderedDict[str, Any] = OrderedDict()
_COMPILED_KEPT = 256


def compiled(definition: WorkflowDefinition, parent: str | None = None) -> Any:
    """The compiled graph of one level of ``definition`` (the top, or an iteration's inside)."""
    key = hashlib.sha256(
        json.dumps([definition.model_dump(mode="json"), parent], sort_keys=True).encode()
    ).hexdigest()
    graph = _COMPILED.get(key)
    if graph is None:
        graph = _compile(definition, parent)
        _COMPILED[key] = graph
        while len(_COMPILED) > _COMPILED_KEPT:
            _COMPILED.popitem(last=False)
    else:
        _COMPILED.move_to_end(key)
    return graph


def _compile(definition: WorkflowDefinition, parent: str | None) -> Any:
    builder = StateGraph(FlowState)
    nodes = definition.children(parent)
    edges = definition.edges_within(parent)
    for node in nodes:
        kind = node_type(node.type)
        settings = kind.Settings.model_validate(node.data)
        builder.add_node(node.id, node_function(definition, node, kind, settings))
    builder.add_edge(START, entry_of(definition, parent))
    for node in nodes:
        leaving = [edge for edge in edges if edge.source == node.id]
        handles = {edge.source_handle for edge in leaving}
        if handles <= {NEXT}:
            for edge in leaving:
                builder.add_edge(node.id, edge.target)
            if not leaving:
                builder.add_edge(node.id, END)
            continue
        targets: dict[str, list[str]] = {}
        for edge in leaving:
            targets.setdefault(edge.source_handle, []).append(edge.target)
        builder.add_conditional_edges(
            node.id,
            _router(node.id, targets),
            [*{edge.target for edge in leaving}, END],
        )
    # An iteration's inside never checkpoints: a paused run resumes at the node that paused
    # (human-input nodes are not allowed inside iterations), and each item starts afresh.
    return builder.compile(checkpointer=None if parent is None else False)


def entry_of(definition: WorkflowDefinition, parent: str | None) -> str:
    """Where a level begins: the start node, or the one inner node no inner edge enters."""
    if parent is None:
        start = definition.start_node()
        assert start is not None, "validation requires a start node"
        return start.id
    inner = definition.edges_within(parent)
    entered = {edge.target for edge in inner}
    [first] = [n.id for n in definition.children(parent) if n.id not in entered]
    return first


def _router(node_id: str, targets: dict[str, list[str]]) -> Callable[[FlowState], list[str]]:
    def route(state: FlowState) -> list[str]:
        chosen = state.get("branches", {}).get(node_id, NEXT)
        return targets.get(chosen) or [END]

    return route


def node_function(
    definition: WorkflowDefinition, node: NodeDefinition, kind: Node, settings: Any
) -> Callable[[FlowState, RunnableConfig], dict[str, Any]]:
    """The graph node that runs one workflow node."""

    def run_node(state: FlowState, config: RunnableConfig) -> dict[str, Any]:
        run: RunContext = config["configurable"]["run"]
        with borrowed_connection(run.connection):
            if run.emit_to is None:
                run.emit_to = get_stream_writer()
            result = execute(run, definition, node, kind, settings, state.get("values", {}))
        return {"values": {node.id: result.outputs}, "branches": {node.id: result.branch}}

    return run_node


def run_inside(
    run: RunContext, definition: WorkflowDefinition, parent: str, values: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Run an iteration's inside once, from ``values``; the variables it ends with."""
    # Inner nodes run on this thread, or on LangGraph's where they branch out: step aside.
    with waiting():
        state = compiled(definition, parent).invoke(
            {"values": values},
            {"configurable": {"run": run}, "recursion_limit": run.max_steps + 2},
        )
    return state.get("values", {})


def execute(
    run: RunContext,
    definition: WorkflowDefinition,
    node: NodeDefinition,
    kind: Node,
    settings: Any,
    values: dict[str, dict[str, Any]],
) -> NodeResult:
    """Run one node: announced, timed, traced; a failure names the node."""
    token = current_node.set(node.id)
    try:
        run.take_step(node.label)
        ctx = NodeContext(run, node, values)
        ctx.run_inside = partial(run_inside, run, definition, node.id)
        inputs = _inputs(ctx, kind, settings)
        step = run.trace.step(StepKind.NODE, node.type, input=inputs, output={})
        ctx.emit(NodeStarted(node.id, node.type, node.label, inputs))
        ctx.deadline = Deadline(node.label, node.timeout_seconds or kind.default_timeout_seconds)
        began = time.monotonic()
        try:
            result = kind.run(ctx, settings)
            ctx.check()
        except GraphBubbleUp:
            _finish(ctx, step, "waiting", {}, began)
            raise
        except RunCancelled:
            raise
        except (ApiError, UpstreamError) as exc:
            _finish(ctx, step, "failed", {}, began, error=_message(exc, run))
            raise
        except Exception as exc:
            # A bug or an unexpected value inside a node: the run fails with the node named.
            failure = ctx.failed(f"{type(exc).__name__}: {exc}")
            _finish(ctx, step, "failed", {}, began, error=failure.message)
            raise failure from exc
        _finish(ctx, step, "succeeded", result.outputs, began, branch=result.branch)
        return result
    finally:
        current_node.reset(token)


def _inputs(ctx: NodeContext, kind: Node, settings: Any) -> dict[str, Any]:
    """The values of the variables the node reads, for the trace and the canvas."""
    seen: dict[str, Any] = {}
    for read in kind.reads(settings):
        node_id, _, name = read.reference.partition(".")
        outputs = ctx.values.get(node_id, {})
        if name in outputs:
            seen[read.reference] = outputs[name]
    return seen


def _finish(
    ctx: NodeContext,
    step: dict[str, Any],
    status: str,
    outputs: dict[str, Any],
    began: float,
    *,
    error: str = "",
    branch: str = NEXT,
) -> None:
    latency = ms_since(began)
    step.update(
        output={"status": status, "outputs": outputs, "branch": branch},
        input_tokens=ctx.input_tokens,
        output_tokens=ctx.output_tokens,
        latency_ms=latency,
        error=error,
    )
    node = ctx.node
    finished = NodeFinished(
        node.id,
        node.type,
        node.label,
        status,
        outputs,
        ctx.input_tokens,
        ctx.output_tokens,
        latency,
        error,
    )
    if not ctx.run.cancelled.is_set():
        ctx.run.emit(finished)


def _message(exc: ApiError | UpstreamError, run: RunContext) -> str:
    if isinstance(exc, ApiError):
        return exc.message
    return exc.caller_message(run.request_id)
