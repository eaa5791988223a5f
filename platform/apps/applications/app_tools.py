"""Published apps offered to an agent as tools (a ``ToolReference`` of type ``app``): the
tool a model sees for one, and who is calling it.

Running the app is ``delegation``'s work, and the toolbox is handed it as a callable
(``Delegate``): running an app needs the toolbox, so a toolbox that imported the runner
would close an import circle (runtime → tool_loop → toolbox → runtime).
"""

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apps.accounts.models import ApiKey, User, Workspace
from apps.applications.models import AgentApp, AppKind, AppVersion
from apps.applications.workflow.definition import WorkflowDefinition
from apps.applications.workflow.engine import RunContext
from apps.applications.workflow.nodes.start import StartSettings
from plugins.base import ToolResult, ToolSpec

PROMPT = "prompt"
_NOT_NAME = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Caller:
    """The run that calls an app as a tool: the sub-run is recorded under it
    (``run_id``), on its surface and for its key or user, and ``callers`` (the app ids up
    the chain, the calling app last) bounds the depth and refuses loops. ``check`` raises
    once the caller has stopped (gone away, or out of time): the sub-run stops with it."""

    workspace: Workspace
    surface: str
    run_id: uuid.UUID
    callers: tuple[str, ...]
    api_key: ApiKey | None = None
    user: User | None = None
    request_id: str = ""
    check: Callable[[], None] | None = None


#: Runs ``app`` (its latest published version) for ``caller`` with the model's arguments;
#: its answer, or an error result (``delegation.call_app``).
Delegate = Callable[[Caller, AgentApp, dict[str, Any]], ToolResult]


def caller_of(run: RunContext, check: Callable[[], None] | None = None) -> Caller:
    """A workflow run (or an agent app's) as the caller of an app tool; a node passes its
    own ``check`` (``NodeContext.check``: the run's, and the node's time limit)."""
    return Caller(
        workspace=run.workspace,
        surface=run.surface,
        run_id=run.run_id,
        callers=run.callers,
        api_key=run.api_key,
        user=run.user,
        request_id=run.request_id,
        check=check or run.check,
    )


def tool_name(app: AgentApp) -> str:
    """The name a model calls the app by: its name as a slug (``Research helper`` →
    ``research_helper``); ``app_<id>`` when nothing of the name is left."""
    slug = _NOT_NAME.sub("_", app.name.lower()).strip("_")[:56]
    return slug or f"app_{app.pk.hex[:8]}"


def tool_spec(app: AgentApp, version: AppVersion) -> ToolSpec:
    """The tool for ``app``: a ``prompt``, and a workflow's start variables besides."""
    properties: dict[str, Any] = {
        PROMPT: {"type": "string", "description": "What to ask the app, in full."}
    }
    required = [PROMPT]
    if app.kind == AppKind.WORKFLOW:
        start = WorkflowDefinition.model_validate(version.config).start_node()
        variables = StartSettings.model_validate(start.data).variables if start else []
        for variable in variables:
            properties[variable.name] = {"type": variable.type}
            if variable.description:
                properties[variable.name]["description"] = variable.description
            if variable.required and variable.default is None:
                required.append(variable.name)
    return ToolSpec(
        name=tool_name(app),
        description=app.description or f"Ask the app '{app.name}'.",
        parameters={"type": "object", "properties": properties, "required": required},
    )
