"""Tool: calls one tool with arguments written in the node, the way an agent app's model
would call it, through the app's ``Toolbox``: a tool plugin enabled in the workspace, one
of the workspace's HTTP tools, an enabled tool of one of its MCP servers, or a published
app of the workspace (a sub-run under this
run, as when an agent delegates; arguments ``prompt`` and a workflow's start variables).

Settings: ``tool`` (``{"type": "plugin" | "http" | "mcp" | "app", "id": ...}``) and
``arguments``. A string
argument is a template: ``"{{ llm_1.text }}"``; a string that is exactly one reference keeps
the variable's own value (a number stays a number, a list a list), so typed arguments can be
passed through. Lists and objects are rendered value by value.

What the tool says is the node's output, errors included (``is_error``): a tool that
refuses its arguments, times out or fails does not fail the node, so a condition can branch
on it, as a model reads such a result as an observation. A tool that does not exist here or
cannot run (disabled, not installed, an HTTP tool deleted since) fails the node.
"""

import json
import re
import uuid
from functools import partial
from typing import Any, Literal

from pydantic import Field, model_validator

from apps.applications.app_tools import caller_of
from apps.applications.config import ToolReference
from apps.applications.models import StepKind
from apps.applications.toolbox import Toolbox
from apps.applications.workflow.nodes.base import (
    Node,
    NodeContext,
    NodeResult,
    NodeSettings,
    Read,
    Uses,
    VarType,
    template_reads,
)
from apps.usage.recorder import ToolCallTags
from plugins.base import ToolResult

#: The longest result the node passes on, in characters.
RESULT_LIMIT = 100_000
_WHOLE_REFERENCE = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")


class ToolChoice(NodeSettings):
    """The shape of an agent app's ``ToolReference``."""

    type: Literal["plugin", "http", "mcp", "app"] = Field(
        description="A tool plugin, an HTTP tool, an MCP server's tool, or a published app."
    )
    id: str = Field(
        min_length=1,
        max_length=100,
        description="A plugin id, an HTTP tool id, an MCP tool id or an app id.",
    )

    @model_validator(mode="after")
    def _ids_are_uuids(self) -> "ToolChoice":
        if self.type in ("app", "mcp"):
            try:
                uuid.UUID(self.id)
            except ValueError:
                whose = (
                    "an app tool's id is the app's id"
                    if self.type == "app"
                    else ("an MCP tool's id is the tool's id")
                )
                raise ValueError(f"{whose} (a UUID), not '{self.id}'") from None
        return self


class ToolSettings(NodeSettings):
    tool: ToolChoice = Field(description="The tool called: a tool plugin or an HTTP tool.")
    arguments: dict[str, Any] = Field(
        default_factory=dict,
        max_length=100,
        description="The tool's arguments; strings are templates ({{ node_id.output }}).",
    )


def strings_in(value: Any) -> list[str]:
    """Every string inside an argument value, however deep."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in strings_in(item)]
    if isinstance(value, list):
        return [text for item in value for text in strings_in(item)]
    return []


def rendered(ctx: NodeContext, value: Any) -> Any:
    """An argument with its templates filled in (see the module's docstring)."""
    if isinstance(value, str):
        whole = _WHOLE_REFERENCE.match(value)
        return ctx.value(whole.group(1)) if whole else ctx.render(value)
    if isinstance(value, dict):
        return {key: rendered(ctx, item) for key, item in value.items()}
    if isinstance(value, list):
        return [rendered(ctx, item) for item in value]
    return value


def parsed_json(text: str) -> Any:
    """``text`` as JSON when it is JSON, else ``None``."""
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return None


def unusable(reference: ToolChoice) -> str:
    if reference.type == "plugin":
        return (
            f"the tool plugin '{reference.id}' is not enabled in this workspace or not "
            "installed; enable it on the Tools page, or pick another tool."
        )
    if reference.type == "app":
        return f"the app '{reference.id}' does not exist in this workspace or is not published."
    if reference.type == "mcp":
        return (
            f"the MCP tool '{reference.id}' is switched off, or its server no longer lists "
            "it (see the MCP servers page)."
        )
    return f"the HTTP tool '{reference.id}' does not exist in this workspace (deleted since?)."


def _sub_run(result: ToolResult) -> dict[str, Any]:
    """The sub-run an app tool made, for the trace to nest (nothing for other tools)."""
    if isinstance(result.data, dict) and result.data.get("run_id"):
        return {"run_id": result.data["run_id"]}
    return {}


class Tool(Node):
    type = "tool"
    Settings = ToolSettings

    def outputs(self, settings: ToolSettings) -> dict[str, VarType]:
        return {"result": "string", "is_error": "boolean", "json": "any"}

    def reads(self, settings: ToolSettings) -> list[Read]:
        return [
            read
            for name, value in settings.arguments.items()
            for text in strings_in(value)
            for read in template_reads(text, f"arguments.{name}")
        ]

    def uses(self, settings: ToolSettings) -> Uses:
        if settings.tool.type == "app":
            return Uses(app_ids=[settings.tool.id])
        return Uses(tools=[settings.tool.model_dump()])

    def run(self, ctx: NodeContext, settings: ToolSettings) -> NodeResult:
        arguments = rendered(ctx, settings.arguments)
        reference = ToolReference(type=settings.tool.type, id=settings.tool.id)
        delegate = ctx.run.delegate
        run = ctx.run
        toolbox = Toolbox(
            run.workspace,
            [reference],
            run_app=partial(delegate, caller_of(run, ctx.check)) if delegate else None,
            check=ctx.check,
            tags=ToolCallTags(
                surface=run.surface,
                api_key=run.api_key,
                app_id=str(run.app.pk),
                app_node=ctx.node.id,
                request_id=run.request_id,
            ),
        )
        if not toolbox:
            raise ctx.failed(unusable(settings.tool))
        [spec] = toolbox.specs
        _, invocation = toolbox.call(spec.name, json.dumps(arguments, ensure_ascii=False))
        ctx.check()
        result = invocation.result
        content = result.content
        ctx.run.trace.step(
            StepKind.TOOL,
            spec.name,
            input={"arguments": arguments},
            output={"content": content, "is_error": result.is_error, **_sub_run(result)},
            latency_ms=invocation.duration_ms,
            error=content if result.is_error else "",
        )
        if len(content) > RESULT_LIMIT:
            content = content[:RESULT_LIMIT] + f"\n[... cut at {RESULT_LIMIT} characters]"
            parsed = None
        else:
            parsed = parsed_json(content)
        return NodeResult({"result": content, "is_error": result.is_error, "json": parsed})
