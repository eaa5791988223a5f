"""The app engine: a graph compiled to a LangGraph ``StateGraph`` and run as a stream of
events. Every app runs here: a workflow as its nodes and edges, an agent as a graph of one
agent node (``apps.applications.runtime``). One trace format, one streaming path, one
cancellation path.

Nodes write their events (``TextDelta``, ``Thought``, ``NodeStarted``, ``NodeFinished``)
to LangGraph's custom stream; ``stream_graph`` yields them as they come. LangGraph runs a
streaming graph's nodes on worker threads; they share the calling thread's database
connection, in turn (``shared_connection``).

Cancellation is cooperative: when the caller goes away, ``stream_graph`` sets the run's
``cancelled`` flag, and the node's next event or ``check`` raises ``RunCancelled`` (a model
call checks between chunks, so its upstream stream is closed promptly). A node's time
limit is checked the same way.
"""

import threading
import time
import uuid
from collections.abc import Callable, Generator, Hashable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from langgraph.errors import GraphRecursionError
from langgraph.types import Command

from apps.accounts.models import ApiKey, User, Workspace
from apps.applications.events import Event
from apps.applications.models import AgentApp, AppVersion
from apps.applications.recording import RunRecorder
from apps.applications.workflow.shared_connection import waiting
from kernel.errors import ApiError

T = TypeVar("T")


class RunCancelled(Exception):
    """The caller went away; the run stops at its next check."""


class WorkflowStepLimit(ApiError):
    status = 400
    code = "WorkflowStepLimit"


class WorkflowNodeFailed(ApiError):
    status = 400
    code = "WorkflowNodeFailed"


class WorkflowNodeTimeout(ApiError):
    status = 400
    code = "WorkflowNodeTimeout"


def merged(left: dict | None, right: dict | None) -> dict:
    """The state's reducer: a node's update adds its keys to what is there."""
    return {**(left or {}), **(right or {})}


class FlowState(TypedDict, total=False):
    #: Each node's outputs by node id (``sys`` holds the run's own: query, session_id).
    values: Annotated[dict[str, dict[str, Any]], merged]
    #: The handle each branching node left by.
    branches: Annotated[dict[str, str], merged]


@dataclass
class RunContext:
    """What every node of one run shares."""

    workspace: Workspace
    app: AgentApp
    version: AppVersion | None
    surface: str
    session_id: str
    recorder: RunRecorder
    api_key: ApiKey | None = None
    user: User | None = None
    request_id: str = ""
    #: App ids up the chain of delegation, this run's app last.
    callers: tuple[str, ...] = ()
    #: Runs a published app as a tool (``delegation.call_app``); app tools are offered to
    #: the run's agents and tool nodes only when it is set.
    delegate: Callable[..., Any] | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    connection: BaseDatabaseWrapper | None = None
    emit_to: Callable[[Any], None] | None = None
    #: Node runs so far, across iterations too (bounded by the definition's max_steps).
    steps_taken: int = 0
    max_steps: int = 1000
    #: What the run resolved once for all its nodes' runs (``resolved``): model routes.
    _resolved: dict[Hashable, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def trace(self):
        return self.recorder.trace

    @property
    def run_id(self) -> uuid.UUID:
        return self.recorder.run_id

    def emit(self, event: Event) -> None:
        """Send an event to the caller (raises ``RunCancelled`` once the caller has gone)."""
        self.check()
        if self.emit_to is not None:
            self.emit_to(event)

    def check(self) -> None:
        if self.cancelled.is_set():
            raise RunCancelled()

    def resolved(self, key: Hashable, resolve: Callable[[], T]) -> T:
        """``resolve()``'s value for ``key``, resolved once per run: a node that runs again
        (in a loop, an iteration, a retry) reuses it. Nodes run on several threads; two
        that race both resolve, and the first answer is kept."""
        with self._lock:
            if key in self._resolved:
                return self._resolved[key]
        value = resolve()  # outside the lock: it may wait on the database
        with self._lock:
            return self._resolved.setdefault(key, value)

    def take_step(self, label: str) -> None:
        """Count one node run against ``max_steps``."""
        with self._lock:
            self.steps_taken += 1
            if self.steps_taken > self.max_steps:
                raise WorkflowStepLimit(
                    f"The run took more than {self.max_steps} node steps (at '{label}'); "
                    "raise max_steps or look for a loop."
                )


@dataclass
class Deadline:
    """A node's time limit, checked cooperatively (``NodeContext.check``)."""

    label: str
    seconds: float
    started: float = field(default_factory=time.monotonic)

    def check(self) -> None:
        if time.monotonic() - self.started > self.seconds:
            raise WorkflowNodeTimeout(
                f"Node '{self.label}' ran longer than its {self.seconds:g} s time limit."
            )


def stream_graph(
    graph: Any,
    start: dict[str, Any] | Command,
    run: RunContext,
    *,
    thread_id: str | None = None,
    configurable: dict[str, Any] | None = None,
) -> Generator[Event, None, dict[str, Any] | None]:
    """Run a compiled graph, yielding its nodes' events as they come; returns the value a
    human-input node paused with (``None`` when the graph ran to its end). ``thread_id``
    names the checkpoint thread of a graph compiled with a checkpointer."""
    run.connection = connections[DEFAULT_DB_ALIAS]
    run.connection.inc_thread_sharing()
    checkpointed = {"thread_id": thread_id} if thread_id else {}
    config: dict[str, Any] = {
        "configurable": {"run": run, **checkpointed, **(configurable or {})},
        # LangGraph's own bound on supersteps; ours (``take_step``) counts node runs.
        "recursion_limit": run.max_steps + 2,
    }
    paused: dict[str, Any] | None = None
    stream = graph.stream(
        start,
        config,
        stream_mode=["custom", "updates"],
        durability="exit" if thread_id else None,
    )
    # A sub-run's caller (a node) waits here on the sub-run's own node threads, closing
    # the stream included: it must not hold the connection while they finish.
    with waiting():
        try:
            for mode, chunk in stream:
                if mode == "custom":
                    yield chunk
                elif isinstance(chunk, dict) and "__interrupt__" in chunk:
                    paused = chunk["__interrupt__"][0].value
        except GeneratorExit:
            run.cancelled.set()
            stream.close()
            raise
        except GraphRecursionError:
            raise WorkflowStepLimit(
                f"The run took more than {run.max_steps} steps; raise max_steps or look for a loop."
            ) from None
        finally:
            run.connection.dec_thread_sharing()
    return paused
