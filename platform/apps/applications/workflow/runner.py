"""Running a workflow app: the call's inputs checked (``plan_workflow``), the compiled
graph streamed (``engine.stream_graph``), the run recorded. A run that reaches a
human-input node pauses: its state waits in Postgres (``checkpoints``), the run is recorded
as ``waiting`` with the question as its answer, and the next call with the same
``session_id`` resumes it with its prompt as the answer."""

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from langgraph.types import Command

from apps.accounts.models import ApiKey, User, Workspace
from apps.applications.events import Event, Finished
from apps.applications.models import AgentApp, AppVersion
from apps.applications.recording import RunRecorder
from apps.applications.workflow import checkpoints
from apps.applications.workflow.compiling import compiled
from apps.applications.workflow.definition import WorkflowDefinition
from apps.applications.workflow.engine import RunContext, stream_graph
from apps.applications.workflow.nodes.start import StartSettings, input_values
from kernel.errors import InvalidParameter

HUMAN_INPUT = "human_input"


@dataclass
class WorkflowPlan:
    """Everything a workflow run needs, checked before it starts."""

    workspace: Workspace
    app: AgentApp
    version: AppVersion | None
    definition: WorkflowDefinition
    surface: str
    prompt: str
    inputs: dict[str, Any]
    session_id: str
    #: The session's run is paused at a human-input node; this call answers it.
    resuming: bool = False
    api_key: ApiKey | None = None
    user: User | None = None
    request_id: str = ""
    parent_run_id: uuid.UUID | None = None
    callers: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


def can_pause(definition: WorkflowDefinition) -> bool:
    return any(node.type == HUMAN_INPUT for node in definition.nodes)


def plan_workflow(
    *,
    app: AgentApp,
    version: AppVersion | None,
    definition: WorkflowDefinition,
    prompt: str | None,
    inputs: dict[str, Any],
    session_id: str | None,
    surface: str,
    api_key: ApiKey | None = None,
    user: User | None = None,
    request_id: str = "",
    parent_run_id: uuid.UUID | None = None,
    callers: tuple[str, ...] = (),
) -> WorkflowPlan:
    """A workflow call's plan; bad inputs are a 400 before anything runs."""
    start = definition.start_node()
    if start is None:
        raise InvalidParameter("The workflow has no start node; add one and publish again.")
    checked = input_values(StartSettings.model_validate(start.data), inputs)
    resuming = bool(session_id) and can_pause(definition) and is_paused(app, session_id or "")
    text = (prompt or "").strip()
    if resuming and not text:
        raise InvalidParameter("input.prompt: the run is waiting for an answer; send it as prompt.")
    return WorkflowPlan(
        workspace=app.workspace,
        app=app,
        version=version,
        definition=definition,
        surface=surface,
        prompt=text,
        inputs=checked,
        session_id=session_id or uuid.uuid4().hex,
        resuming=resuming,
        api_key=api_key,
        user=user,
        request_id=request_id,
        parent_run_id=parent_run_id,
        callers=callers,
    )


def is_paused(app: AgentApp, session_id: str) -> bool:
    """Whether the app's run in ``session_id`` waits at a human-input node."""
    with checkpoints.saver() as saver:
        state = saver.get_tuple(
            {"configurable": {"thread_id": checkpoints.thread_id(app.pk, session_id)}}
        )
    return state is not None and any(
        channel == "__interrupt__" for _task, channel, _value in state.pending_writes or []
    )


def run_workflow(
    plan: WorkflowPlan, *, delegate: Callable[..., Any] | None = None
) -> Iterator[Event]:
    """Run the workflow once (or resume it); see the module's docstring. ``delegate``
    lets its agents call apps as tools (``RunContext.delegate``)."""
    with RunRecorder(plan) as recorder:  # type: ignore[arg-type]
        run = RunContext(
            workspace=plan.workspace,
            app=plan.app,
            version=plan.version,
            surface=plan.surface,
            session_id=plan.session_id,
            recorder=recorder,
            api_key=plan.api_key,
            user=plan.user,
            request_id=plan.request_id,
            callers=(*plan.callers, str(plan.app.pk)),
            max_steps=plan.definition.max_steps,
            delegate=delegate,
        )
        graph = compiled(plan.definition)
        start: dict[str, Any] | Command = {
            "values": {
                "sys": {"query": plan.prompt, "session_id": plan.session_id, "inputs": plan.inputs}
            }
        }
        if can_pause(plan.definition):
            thread = checkpoints.thread_id(plan.app.pk, plan.session_id)
            with checkpoints.saver() as saver:
                if plan.resuming:
                    start = Command(resume=plan.prompt)
                else:
                    # A run that ended badly (failed, cancelled) left its state: a new run
                    # in the session must not inherit it.
                    saver.delete_thread(thread)
                paused = None
                try:
                    paused = yield from stream_graph(
                        graph.copy(update={"checkpointer": saver}),
                        start,
                        run,
                        thread_id=thread,
                    )
                finally:
                    if paused is None:  # ended, whether answered, failed or cancelled
                        saver.delete_thread(thread)
        else:
            paused = yield from stream_graph(graph, start, run)
        if paused is not None:
            yield recorder.answered(str(paused.get("question", "")))
        yield _finish(plan, recorder, paused)


def _finish(plan: WorkflowPlan, recorder: RunRecorder, paused: dict[str, Any] | None) -> Finished:
    finished = Finished(
        text=recorder.answer,
        finish_reason="stop",
        session_id=plan.session_id,
        thoughts=recorder.trace.thoughts,
        doc_references=None,
        usage=recorder.trace.usage_out(),
        waiting_for=paused,
    )
    if paused is not None:
        recorder.waiting()
    else:
        recorder.succeeded()
    return finished
