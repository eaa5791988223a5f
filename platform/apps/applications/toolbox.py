"""The tools one run of an app may call, and calling them by the name a model used.

Tools come from the app's configuration: installed tool plugins enabled in the workspace,
the workspace's HTTP tools, the enabled tools of its MCP servers, and its published apps
(when the run is given ``run_app``, the sub-app runner: see ``app_tools``);
``knowledge_search`` joins them when the app offers its knowledge bases as a tool. A call
never raises: bad arguments, an unknown name, a tool's failure or time-out all come back as
an error result the model reads as its observation (what a run's ``check`` raises excepted:
the run stopped).
"""

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apps.accounts.models import Workspace
from apps.applications import selectors
from apps.applications.app_tools import tool_spec
from apps.applications.config import ToolReference
from apps.applications.models import AgentApp
from apps.applications.recording import ms_since
from apps.applications.workflow.shared_connection import waiting
from apps.http_tools import selectors as http_tool_selectors
from apps.http_tools import services as http_tool_services
from apps.http_tools.models import HttpTool
from apps.mcp_servers import selectors as mcp_selectors
from apps.mcp_servers import services as mcp_services
from apps.mcp_servers.models import McpTool
from apps.plugins.invocation import Invocation, invoke_tool
from apps.plugins.selectors import usable_tools
from apps.plugins.services import loaded_class
from apps.usage.recorder import ToolCallTags
from kernel.errors import ApiError
from plugins.base import Passage, ToolResult, ToolSpec

logger = logging.getLogger(__name__)

KNOWLEDGE_SEARCH = "knowledge_search"
#: What a model reads of a tool's answer, at most.
OBSERVATION_LIMIT = 8_000


@dataclass(frozen=True)
class _Entry:
    spec: ToolSpec
    plugin_id: str | None = None
    http_tool: HttpTool | None = None
    mcp_tool: McpTool | None = None
    app: AgentApp | None = None


#: Runs a published app as a tool of this run, with the model's arguments.
AppRunner = Callable[[AgentApp, dict[str, Any]], ToolResult]


class Toolbox:
    def __init__(
        self,
        workspace: Workspace,
        references: list[ToolReference],
        *,
        search_knowledge: Callable[[str, int], list[Passage]] | None = None,
        offer_knowledge_search: bool = False,
        run_app: AppRunner | None = None,
        check: Callable[[], None] | None = None,
        tags: ToolCallTags | None = None,
    ) -> None:
        """``check`` raises once the run has stopped (an MCP call waiting on its server
        stops with it); ``tags`` meter the calls that go out of the platform (MCP)."""
        self.workspace = workspace
        self.search_knowledge = search_knowledge
        self.run_app = run_app
        self.check = check
        self.tags = tags
        self._entries: dict[str, _Entry] = {}
        wanted = [r for r in references if r.type == "plugin"]
        if offer_knowledge_search and search_knowledge is not None:
            wanted.append(ToolReference(type="plugin", id=KNOWLEDGE_SEARCH))
        # An app without tools reads nothing here: its first answer comes sooner.
        plugins = {p.plugin.plugin_id: p for p in usable_tools(workspace)} if wanted else {}
        for reference in wanted:
            entry = plugins.get(reference.id)
            plugin_class = loaded_class(entry.plugin) if entry else None
            if plugin_class is None:
                logger.info("Tool plugin %s is not usable here; not offered", reference.id)
                continue
            self._add(
                _Entry(
                    ToolSpec(
                        name=reference.id,
                        description=plugin_class.description,
                        parameters=plugin_class.parameters_schema(),
                    ),
                    plugin_id=reference.id,
                )
            )
        for reference in references:
            if reference.type != "http":
                continue
            try:
                tool = http_tool_selectors.http_tool(workspace, reference.id)
            except ApiError:
                logger.info("HTTP tool %s no longer exists; not offered", reference.id)
                continue
            self._add(_Entry(http_tool_services.tool_spec(tool), http_tool=tool))
        for reference in references:
            if reference.type == "mcp":
                self._add_mcp(reference.id)
        for reference in references:
            if reference.type == "app":
                self._add_app(reference.id)

    def _add_mcp(self, tool_id: str) -> None:
        """An enabled tool of one of the workspace's MCP servers."""
        try:
            tool = mcp_selectors.usable_tool(self.workspace, tool_id)
        except ApiError:
            logger.info("MCP tool %s is gone or switched off; not offered", tool_id)
            return
        self._add(_Entry(mcp_services.tool_spec(tool), mcp_tool=tool))

    def _add_app(self, app_id: str) -> None:
        """A published app of the workspace, when this run can run one."""
        if self.run_app is None:
            logger.info("App tool %s: this run cannot call apps; not offered", app_id)
            return
        try:
            app = selectors.app(self.workspace, app_id)
        except ApiError:
            logger.info("App %s no longer exists; not offered", app_id)
            return
        version = selectors.latest_version(app)
        if version is None:
            logger.info("App %s is not published; not offered", app_id)
            return
        self._add(_Entry(tool_spec(app, version), app=app))

    def _add(self, entry: _Entry) -> None:
        # The first of two tools with one name wins; publishing refuses such apps.
        self._entries.setdefault(entry.spec.name, entry)

    @property
    def specs(self) -> list[ToolSpec]:
        return [entry.spec for entry in self._entries.values()]

    def __bool__(self) -> bool:
        return bool(self._entries)

    def call(self, name: str, arguments_text: str) -> tuple[dict, Invocation]:
        """Run the tool the model named, with its JSON arguments; the parsed arguments and
        the outcome (an error result for anything that went wrong)."""
        entry = self._entries.get(name)
        if entry is None:
            names = ", ".join(self._entries) or "none"
            return {}, _failed(name, f"There is no tool named '{name}'. Tools: {names}.")
        try:
            arguments = json.loads(arguments_text or "{}")
        except ValueError as exc:
            return {}, _failed(name, f"The arguments are not valid JSON ({exc}); send an object.")
        if not isinstance(arguments, dict):
            return {}, _failed(name, "The arguments must be a JSON object.")
        if entry.app is not None and self.run_app is not None:
            # Outside the try: the app's own failures are its result already, and what
            # else it raises (the calling run stopped) must stop the caller too.
            began = time.monotonic()
            result = self.run_app(entry.app, arguments)
            return arguments, Invocation(tool=name, result=result, duration_ms=ms_since(began))
        try:
            if entry.http_tool is not None:
                invocation = http_tool_services.invoke_http_tool(entry.http_tool, arguments)
            elif entry.mcp_tool is not None:
                invocation = mcp_services.invoke_mcp_tool(
                    entry.mcp_tool, arguments, check=self.check, tags=self.tags, waiting=waiting
                )
            else:
                invocation = invoke_tool(
                    self.workspace,
                    entry.plugin_id,
                    arguments,
                    search_knowledge=self.search_knowledge,
                )
        except ApiError as exc:  # invalid arguments, a tool disabled since the run began
            return arguments, _failed(name, exc.message)
        return arguments, invocation


def _failed(name: str, message: str) -> Invocation:
    return Invocation(tool=name, result=ToolResult(content=message, is_error=True), duration_ms=0)


def observation(result: ToolResult) -> str:
    """A tool result as the model reads it: bounded, and marked when it is an error."""
    content = result.content
    if len(content) > OBSERVATION_LIMIT:
        content = content[:OBSERVATION_LIMIT] + f"\n[... cut at {OBSERVATION_LIMIT} characters]"
    return f"Error: {content}" if result.is_error else content
