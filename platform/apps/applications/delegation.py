"""Agent orchestration: a published app (agent or workflow) called by another app's agent
as a tool. The called app runs its latest published version as a sub-run: recorded as
its own ``Run`` under the calling run (``parent_run_id``), on the caller's surface and for
its key or user; its answer is the tool's observation, and the tool step names the
sub-run (``{"run_id": ...}``) so the trace can nest it.

Chains are bounded: an app already up the chain is refused ("would call itself"), and so
is a call more than ``settings.AGENT_DELEGATION_MAX_DEPTH`` levels below the app first
called. Both are the tool's error result, which the calling model reads and answers
around; neither fails the calling run.

``call_app`` passes itself on to the sub-run, so its agents may delegate in turn; the
surfaces start a run that may delegate with ``run_agent`` / ``run_flow``.
"""

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

from django.conf import settings

from apps.applications import selectors
from apps.applications.app_tools import PROMPT, Caller, tool_name
from apps.applications.config import AppConfigSchema
from apps.applications.events import Event, Finished
from apps.applications.models import AgentApp, AppKind, AppVersion, Run
from apps.applications.planning import Call, plan_run
from apps.applications.run_plan import RunPlan
from apps.applications.runtime import run_app
from apps.applications.workflow.definition import WorkflowDefinition
from apps.applications.workflow.runner import WorkflowPlan, plan_workflow, run_workflow
from kernel.errors import ApiError
from plugins.base import ToolResult, UpstreamError


def run_agent(plan: RunPlan) -> Iterator[Event]:
    """An agent app's run whose agent may call apps as tools."""
    return run_app(plan, delegate=call_app)


def run_flow(plan: WorkflowPlan) -> Iterator[Event]:
    """A workflow app's run whose agents may call apps as tools."""
    return run_workflow(plan, delegate=call_app)


def refusal(caller: Caller, app: AgentApp) -> str:
    """Why ``caller`` may not call ``app`` ("" when it may)."""
    if str(app.pk) in caller.callers:
        return (
            f"App '{app.name}' would call itself (it is already running up this chain of "
            "calls); answer without it."
        )
    limit = settings.AGENT_DELEGATION_MAX_DEPTH
    if len(caller.callers) > limit:
        return (
            f"Apps may call apps {limit} levels deep at most; '{app.name}' would be one "
            "more. Answer without it."
        )
    return ""


def call_app(caller: Caller, app: AgentApp, arguments: dict[str, Any]) -> ToolResult:
    """Run ``app`` for ``caller`` as a tool; its answer, or an error result (never raises
    for the sub-app's own failures: the calling model reads them)."""
    if reason := refusal(caller, app):
        return ToolResult(content=reason, is_error=True)
    version = selectors.latest_version(app)
    if version is None:
        return ToolResult(content=f"App '{app.name}' is not published.", is_error=True)
    prompt = arguments.get(PROMPT)
    if not isinstance(prompt, str) or not prompt.strip():
        return ToolResult(
            content=f"Give '{tool_name(app)}' a prompt: the question for the app.", is_error=True
        )
    inputs = {key: value for key, value in arguments.items() if key != PROMPT}
    session_id = ""
    try:
        if app.kind == AppKind.WORKFLOW:
            plan = _workflow_plan(caller, app, version, prompt, inputs)
            session_id = plan.session_id
            finished = _to_end(run_workflow(plan, delegate=call_app), caller)
        else:
            agent_plan = _agent_plan(caller, app, version, prompt)
            session_id = agent_plan.session_id
            finished = _to_end(run_app(agent_plan, delegate=call_app), caller)
    except _CallerStopped as stopped:
        raise stopped.reason from None
    except (ApiError, UpstreamError) as exc:
        message = (
            exc.message if isinstance(exc, ApiError) else exc.caller_message(caller.request_id)
        )
        return ToolResult(
            content=f"App '{app.name}' failed: {message}",
            is_error=True,
            data={"run_id": _sub_run_id(caller, app, session_id)},
        )
    return _answer(app, finished, _sub_run_id(caller, app, session_id))


class _CallerStopped(Exception):
    """The calling run stopped while its sub-run ran (``reason`` says why)."""

    def __init__(self, reason: Exception) -> None:
        super().__init__(str(reason))
        self.reason = reason


def _to_end(events: Iterator[Event], caller: Caller) -> Finished:
    """The sub-run, consumed to its end. When the caller stops, the sub-run is closed
    (recorded as cancelled, its model stream closed) and the caller's reason raised."""
    finished = None
    with contextlib.closing(events):  # type: ignore[type-var]
        for event in events:
            if isinstance(event, Finished):
                finished = event
            elif caller.check is not None:
                try:
                    caller.check()
                except Exception as exc:
                    raise _CallerStopped(exc) from exc
    assert finished is not None, "a run that ends without raising ends with Finished"
    return finished


def _agent_plan(caller: Caller, app: AgentApp, version: AppVersion, prompt: str) -> RunPlan:
    plan = plan_run(
        app=app,
        version=version,
        config=AppConfigSchema.model_validate(version.config),
        call=Call(prompt=prompt),
        surface=caller.surface,
        api_key=caller.api_key,
        user=caller.user,
        request_id=caller.request_id,
    )
    return dataclasses.replace(plan, parent_run_id=caller.run_id, callers=caller.callers)


def _workflow_plan(
    caller: Caller, app: AgentApp, version: AppVersion, prompt: str, inputs: dict[str, Any]
) -> WorkflowPlan:
    return plan_workflow(
        app=app,
        version=version,
        definition=WorkflowDefinition.model_validate(version.config),
        prompt=prompt,
        inputs=inputs,
        session_id=None,
        surface=caller.surface,
        api_key=caller.api_key,
        user=caller.user,
        request_id=caller.request_id,
        parent_run_id=caller.run_id,
        callers=caller.callers,
    )


def _answer(app: AgentApp, finished: Finished, run_id: str | None) -> ToolResult:
    if finished.waiting_for is not None:
        # Nobody can answer a sub-run's question: the tool call cannot go on.
        question = finished.waiting_for.get("question", "")
        return ToolResult(
            content=f"App '{app.name}' stopped to ask a person ({question!r}); a tool call "
            "cannot answer it.",
            is_error=True,
            data={"run_id": run_id},
        )
    return ToolResult(content=finished.text, data={"run_id": run_id})


def _sub_run_id(caller: Caller, app: AgentApp, session_id: str) -> str | None:
    """The sub-run's id: each sub-run has a session of its own, and is recorded before its
    last event (or as it fails)."""
    if not session_id:
        return None  # refused before it started
    found = (
        Run.objects.filter(app=app, session_id=session_id, parent_run_id=caller.run_id)
        .values_list("pk", flat=True)
        .first()
    )
    return str(found) if found else None
