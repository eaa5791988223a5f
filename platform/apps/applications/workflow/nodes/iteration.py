"""Iteration: the nodes inside it (``parent`` = its id) run once per item of an array,
and one of their outputs, collected per item in item order, is its ``results``.

``items`` names the array: a variable (``node.output``), or a path into an object variable
(``node.output.key...``), e.g. ``plan.structured.steps`` for the list an LLM node's
structured output holds. Inside, ``<id>.item`` and ``<id>.index`` are the item and its
index (from 0), beside every variable from outside. ``output`` names the inner node's
output collected (``llm_2.text``).

With ``concurrency`` above 1, up to that many items run at once on a thread pool; each
thread borrows the run's database connection and a copy of the caller's context
variables (the node being traced, LangGraph's run config), as the engine's own threads
do (``engine``). The first item to fail fails the node, naming the item; items not yet
started are not started, and those running are waited for.
"""

import contextvars
import re
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any

from langgraph.errors import GraphBubbleUp
from pydantic import Field

from apps.applications.workflow.engine import RunCancelled, WorkflowStepLimit
from apps.applications.workflow.nodes.base import (
    REFERENCE,
    Node,
    NodeContext,
    NodeResult,
    NodeSettings,
    Read,
)
from apps.applications.workflow.shared_connection import borrowed_connection, waiting
from kernel.errors import ApiError
from plugins.base import UpstreamError

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
PATH = re.compile(rf"^({_NAME}\.{_NAME})((?:\.[A-Za-z0-9_]+)*)$")
#: What the nodes inside see, each time round.
INNER_VARIABLES: dict[str, str] = {"item": "any", "index": "number"}


class IterationSettings(NodeSettings):
    items: str = Field(
        pattern=PATH.pattern,
        description="The array: node_id.output, or node_id.output.key for one in an object.",
    )
    concurrency: int = Field(1, ge=1, le=10, description="Items run at once.")
    output: str = Field(
        pattern=REFERENCE.pattern, description="The inner node's output collected per item."
    )


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return {str: "a string", dict: "an object"}.get(type(value), type(value).__name__)


class Iteration(Node):
    type = "iteration"
    Settings = IterationSettings
    #: The whole loop's limit; each inner node has its own besides.
    default_timeout_seconds = 1800.0

    def outputs(self, settings: IterationSettings) -> dict[str, Any]:
        return {"results": "array"}

    def inner_variables(self, settings: IterationSettings) -> dict[str, str]:
        """The variables the nodes inside read as ``<id>.item`` and ``<id>.index``
        (validation reads them here)."""
        return dict(INNER_VARIABLES)

    def reads(self, settings: IterationSettings) -> list[Read]:
        variable, path = PATH.match(settings.items).groups()  # type: ignore[union-attr]
        # A path reads into an object; without one the variable is the array itself.
        return [Read(variable, "object" if path else "array", "items")]

    def run(self, ctx: NodeContext, settings: IterationSettings) -> NodeResult:
        items = self._items(ctx, settings.items)
        if settings.concurrency == 1 or len(items) < 2:
            results = []
            for index, item in enumerate(items):
                ctx.check()
                results.append(self._one(ctx, settings, index, item))
        else:
            results = self._concurrently(ctx, settings, items)
        return NodeResult({"results": results})

    def _items(self, ctx: NodeContext, items: str) -> list[Any]:
        variable, path = PATH.match(items).groups()  # type: ignore[union-attr]
        value = ctx.value(variable)
        walked = variable
        for key in filter(None, path.split(".")):
            if not isinstance(value, dict) or key not in value:
                raise ctx.failed(f"{walked} has no key '{key}' (items: {items}).")
            value, walked = value[key], f"{walked}.{key}"
        if not isinstance(value, list):
            raise ctx.failed(f"items must be an array; {items} is {_type_name(value)}.")
        return value

    def _one(self, ctx: NodeContext, settings: IterationSettings, index: int, item: Any) -> Any:
        """Run the inside for one item; the output it collects."""
        assert ctx.run_inside is not None, "the engine gives every node run_inside"
        values = {**ctx.values, ctx.node.id: {"item": item, "index": index}}
        try:
            ended = ctx.run_inside(values)
        except (RunCancelled, GraphBubbleUp, WorkflowStepLimit):
            raise
        except ApiError as exc:
            raise ctx.failed(f"item {index} failed: {exc.message}") from exc
        except UpstreamError as exc:
            message = exc.caller_message(ctx.run.request_id)
            raise ctx.failed(f"item {index} failed: {message}") from exc
        node_id, name = settings.output.split(".")
        outputs = ended.get(node_id)
        if outputs is None or name not in outputs:
            raise ctx.failed(f"item {index}: {settings.output} has no value (did {node_id} run?).")
        return outputs[name]

    def _concurrently(
        self, ctx: NodeContext, settings: IterationSettings, items: list[Any]
    ) -> list[Any]:
        connection = ctx.run.connection

        def one(index: int, item: Any) -> Any:
            with borrowed_connection(connection):
                ctx.check()
                return self._one(ctx, settings, index, item)

        workers = min(settings.concurrency, len(items))
        # This thread waits on the items' threads, which take turns on the connection.
        with (
            waiting(),
            ThreadPoolExecutor(workers, thread_name_prefix=f"iteration-{ctx.node.id}") as pool,
        ):
            futures: list[Future] = [
                pool.submit(contextvars.copy_context().run, one, index, item)
                for index, item in enumerate(items)
            ]
            wait(futures, return_when=FIRST_EXCEPTION)
            for future in futures:
                future.cancel()  # those not started yet; running ones are waited for
            wait(futures)
        for future in futures:
            if not future.cancelled() and future.exception() is not None:
                raise future.exception()  # type: ignore[misc]
        return [future.result() for future in futures]
