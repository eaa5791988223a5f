"""What the nodes name in the workspace: chat models, knowledge bases, tools (plugins, HTTP
tools and MCP tools) and published apps (an agent node's apps agent apps)."""

from apps.accounts.models import Workspace
from apps.applications import selectors
from apps.applications.models import AppKind
from apps.applications.workflow.nodes.base import Uses
from apps.applications.workflow.validation.graph import Graph
from apps.applications.workflow.validation.problems import Report
from apps.http_tools.models import HttpTool
from apps.knowledge.models import KnowledgeBase
from apps.mcp_servers.selectors import enabled_tool_ids
from apps.plugins.selectors import usable_tools
from kernel.ids import canonical_uuid, valid_uuids


def check_uses(graph: Graph, report: Report, workspace: Workspace) -> None:
    uses = {node_id: graph.kind(node_id).uses(s) for node_id, s in graph.settings.items()}
    for use in uses.values():
        # An app called as a tool is an app reference like any other.
        use.app_ids = [
            *use.app_ids,
            *(t.get("id", "") for t in use.tools if t.get("type") == "app"),
        ]
        use.tools = [t for t in use.tools if t.get("type") != "app"]
    check_models(report, workspace, uses)
    check_knowledge_bases(report, workspace, uses)
    check_tools(graph, report, workspace, uses)
    check_apps(graph, report, workspace, uses)


def check_models(report: Report, workspace: Workspace, uses: dict[str, Uses]) -> None:
    named = {m for u in uses.values() for m in u.models if m}
    known = named & selectors.chat_model_names(workspace)
    for node_id, use in uses.items():
        for model in use.models:
            if not model:
                report.add(node_id, "data.model", "choose a chat model.")
            elif model not in known:
                report.add(
                    node_id,
                    "data.model",
                    f"'{model}' is not a chat model of this workspace.",
                )


def check_knowledge_bases(report: Report, workspace: Workspace, uses: dict[str, Uses]) -> None:
    named = {str(k) for u in uses.values() for k in u.knowledge_base_ids}
    known = {
        str(pk)
        for pk in KnowledgeBase.objects.in_workspace(workspace)
        .filter(pk__in=valid_uuids(named))
        .values_list("pk", flat=True)
    }
    for node_id, use in uses.items():
        for kb_id in use.knowledge_base_ids:
            if canonical_uuid(kb_id) not in known:
                report.add(
                    node_id,
                    "data.knowledge_base_ids",
                    f"no knowledge base '{kb_id}' in this workspace.",
                )


def check_tools(graph: Graph, report: Report, workspace: Workspace, uses: dict[str, Uses]) -> None:
    tools = [t for u in uses.values() for t in u.tools]
    if not tools:
        return
    enabled = {p.plugin.plugin_id for p in usable_tools(workspace)}
    http_ids = [t.get("id", "") for t in tools if t.get("type") == "http"]
    http = {
        str(pk)
        for pk in HttpTool.objects.in_workspace(workspace)
        .filter(pk__in=valid_uuids(http_ids))
        .values_list("pk", flat=True)
    }
    mcp = enabled_tool_ids(workspace, [t.get("id", "") for t in tools if t.get("type") == "mcp"])
    for node_id, use in uses.items():
        for tool in use.tools:
            kind, tool_id = tool.get("type"), tool.get("id", "")
            setting = where(graph, node_id, "tool")
            if kind == "plugin" and tool_id not in enabled:
                report.add(
                    node_id,
                    setting,
                    f"the tool plugin '{tool_id}' is not installed and enabled in this workspace.",
                )
            elif kind == "http" and canonical_uuid(tool_id) not in http:
                report.add(node_id, setting, f"no HTTP tool '{tool_id}' here.")
            elif kind == "mcp" and canonical_uuid(tool_id) not in mcp:
                report.add(
                    node_id,
                    setting,
                    f"no enabled MCP tool '{tool_id}' here (switched off, or its server "
                    "no longer lists it).",
                )
            elif kind not in ("plugin", "http", "mcp"):
                report.add(node_id, setting, f"a tool of unknown type '{kind}'.")


def check_apps(graph: Graph, report: Report, workspace: Workspace, uses: dict[str, Uses]) -> None:
    named = {str(a) for u in uses.values() for a in u.app_ids}
    if not named:
        return
    found = {
        str(app.pk): app for app in selectors.apps(workspace).filter(pk__in=valid_uuids(named))
    }
    for node_id, use in uses.items():
        for app_id in use.app_ids:
            app = found.get(canonical_uuid(app_id))
            setting = where(graph, node_id, "app")
            if app is None:
                report.add(node_id, setting, f"no app '{app_id}' in this workspace.")
            elif app.published_version is None:
                report.add(
                    node_id,
                    setting,
                    f"the app '{app_id}' is not published yet; publish it first.",
                )
            elif app_id in use.agent_app_ids and app.kind != AppKind.AGENT:
                report.add(
                    node_id,
                    setting,
                    f"'{app.name}' is a workflow app; an agent node runs agent apps (call "
                    "a workflow with a tool node of type app).",
                )


def where(graph: Graph, node_id: str, thing: str) -> str:
    """The setting that names a tool or an app in ``node_id``'s settings."""
    data = graph.nodes[node_id].data
    if thing == "app" and data.get("app_id"):
        return "data.app_id"
    if "tool" in data:
        return "data.tool"
    if "agent" in data:
        return "data.agent.tools"
    return "data.tools"
