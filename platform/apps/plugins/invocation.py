"""Running a tool for a workspace: arguments validated, time bounded, failures reported.

A tool's exception or time-out becomes an error result the caller (a person testing it, or
an agent) can read; it is never an HTTP 500. Each call runs in its own thread, so the time
limit counts from the call's start and one hung tool never delays another. Python cannot
kill a thread: a timed-out call is abandoned, not stopped, so tools doing blocking I/O
should also set their own time-outs.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from apps.accounts.models import Workspace
from apps.plugins import discovery
from apps.plugins.models import Kind
from apps.plugins.plugin_settings import field_errors, secret_values
from apps.plugins.selectors import plugin_in_workspace
from apps.plugins.services import PluginUnavailable, loaded_class, settings_for
from kernel.errors import InvalidParameter, NotFound
from plugins.base import Passage, Tool, ToolContext, ToolResult
from plugins.scrubbing import scrub

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Invocation:
    tool: str
    result: ToolResult
    duration_ms: int


def invoke_tool(
    workspace: Workspace,
    plugin_id: str,
    arguments: dict[str, Any],
    *,
    search_knowledge: Callable[[str, int], list[Passage]] | None = None,
) -> Invocation:
    """Run tool ``plugin_id`` for ``workspace``; a tool not enabled there does not exist.
    An agent app passes ``search_knowledge`` (see ``ToolContext``)."""
    entry = plugin_in_workspace(workspace, Kind.TOOL, plugin_id)
    if entry is None or not entry.enabled:
        raise NotFound(f"Tool '{plugin_id}' is not enabled in this workspace.")
    plugin_class = loaded_class(entry.plugin) if entry.plugin.available else None
    if plugin_class is None:
        raise PluginUnavailable(f"Tool '{plugin_id}' is enabled but not installed or not loading.")
    try:
        validated = plugin_class.Arguments.model_validate(arguments)
    except PydanticValidationError as exc:
        raise InvalidParameter(field_errors(exc, "arguments")) from None
    settings = settings_for(entry, plugin_class)
    context = ToolContext(
        settings=settings, workspace=workspace.slug, search_knowledge=search_knowledge
    )
    tool: Tool = discovery.instance_of(plugin_class)
    secrets = secret_values(settings)

    started = time.monotonic()
    outcome: dict[str, Any] = {}

    def call() -> None:
        try:
            outcome["result"] = tool.invoke(validated, context)
        except Exception as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=call, name=f"tool-{plugin_id}", daemon=True)
    worker.start()
    worker.join(plugin_class.timeout_seconds)
    if worker.is_alive():
        result = ToolResult(
            content=f"Tool '{plugin_id}' timed out after {plugin_class.timeout_seconds:g}s.",
            is_error=True,
        )
    elif "error" in outcome or not isinstance(outcome.get("result"), ToolResult):
        error = outcome.get("error") or TypeError(
            f"invoke() returned {type(outcome.get('result')).__name__}, not ToolResult"
        )
        message = scrub(f"{type(error).__name__}: {error}", secrets)
        logger.warning("Tool %s failed: %s", plugin_id, message)
        result = ToolResult(content=f"Tool '{plugin_id}' failed: {message}", is_error=True)
    else:
        result = outcome["result"]
    duration_ms = round((time.monotonic() - started) * 1000)
    if result.is_error:
        result = result.model_copy(update={"content": scrub(result.content, secrets)})
    return Invocation(tool=plugin_id, result=result, duration_ms=duration_ms)
