"""A workspace's MCP tools: what ``tools/list`` shows and what ``tools/call`` runs.

Two kinds, both read from the workspace on every request (no cache to go stale across
publishes or tenants):

- an **app tool** per published app: its schema is ``app_tools.tool_spec`` (a ``prompt``,
  and a workflow's start variables), so an MCP client and another app's agent see the same
  tool; a call runs the latest published version exactly as the DashScope app API does for
  the key (``plan_run`` / ``plan_workflow`` with ``run_agent`` / ``run_flow``), recorded as
  a run on the ``mcp`` surface, metered and held to the workspace's quotas;
- a **search tool** per knowledge base: its retrieval settings, ``top_k`` from the call,
  metered as the console's hit test is.

Everything here is synchronous Django; ``server`` calls it from a worker thread. A failure
a caller can act on (a quota, a bad argument, a model that failed) is a tool error result
with the message, never a protocol error: an MCP client shows it to its model.
"""

import uuid
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from apps.accounts.models import ApiKey, Workspace
from apps.applications.app_tools import PROMPT, tool_name, tool_spec
from apps.applications.config import AppConfigSchema
from apps.applications.delegation import run_agent, run_flow
from apps.applications.models import AgentApp, AppKind, AppVersion, Run, RunSurface
from apps.applications.planning import Call, plan_run
from apps.applications.runtime import run_to_end
from apps.applications.workflow.definition import WorkflowDefinition
from apps.applications.workflow.runner import plan_workflow
from apps.applications.workflow_frames import collect
from apps.knowledge.models import KnowledgeBase
from apps.knowledge.retrieval import Hit, retrieve
from apps.knowledge.retrieval_settings import RetrievalSettings
from apps.mcp_serving import naming, selectors
from kernel.errors import ApiError
from plugins.base import UpstreamError

TOP_K_DEFAULT = 5
TOP_K_MAX = 20


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    input_schema: dict[str, Any]
    app: AgentApp | None = None
    version: AppVersion | None = None
    knowledge_base: KnowledgeBase | None = None


@dataclass(frozen=True)
class Outcome:
    """A tool call's result: ``text`` for the model, ``structured`` for programs."""

    text: str
    structured: dict[str, Any] | None = None
    is_error: bool = False


@dataclass(frozen=True)
class Caller:
    """Who calls: the key (its workspace is the tenant) and the HTTP request's id."""

    api_key: ApiKey
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def workspace(self) -> Workspace:
        return self.api_key.workspace


def _search_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "query": {"type": "string", "minLength": 1, "description": "What to search for."},
            "top_k": {
                "type": "integer",
                "minimum": 1,
                "maximum": TOP_K_MAX,
                "default": TOP_K_DEFAULT,
                "description": "How many passages to return.",
            },
        },
        "required": ["query"],
        "additionalProperties": False,
    }


def _search_description(knowledge_base: KnowledgeBase) -> str:
    about = f": {knowledge_base.description}" if knowledge_base.description else ""
    return (
        f"Search the knowledge base '{knowledge_base.name}'{about}. Returns the best "
        "passages with their document titles and scores."
    )


def workspace_tools(workspace: Workspace) -> list[Tool]:
    """The workspace's tools, search tools first, each under its unique name."""
    knowledge_bases = selectors.knowledge_bases(workspace)
    apps = selectors.published_apps(workspace)
    names = naming.assign(
        [
            (
                naming.Candidate(naming.search_base(kb.name), kb.pk, (0, kb.created_at, kb.pk.hex)),
                naming.SEARCH_PREFIX,
            )
            for kb in knowledge_bases
        ]
        + [
            (naming.Candidate(tool_name(app), app.pk, (1, app.created_at, app.pk.hex)), "app_")
            for app, _ in apps
        ]
    )
    tools = [
        Tool(names[kb.pk], _search_description(kb), _search_schema(), knowledge_base=kb)
        for kb in knowledge_bases
    ]
    for app, version in apps:
        spec = tool_spec(app, version)
        tools.append(Tool(names[app.pk], spec.description, spec.parameters, app, version))
    return tools


def call(caller: Caller, name: str, arguments: dict[str, Any]) -> Outcome:
    """Run the tool ``name`` of the caller's workspace; an unknown name, bad arguments and
    every failure on the way are an error outcome."""
    tool = next((t for t in workspace_tools(caller.workspace) if t.name == name), None)
    if tool is None:
        return Outcome(f"Unknown tool '{name}'; list the tools to see this server's.", None, True)
    try:
        jsonschema.validate(arguments, tool.input_schema)
    except jsonschema.ValidationError as exc:
        return Outcome(f"Invalid arguments for '{name}': {exc.message}", None, True)
    try:
        if tool.knowledge_base is not None:
            return _search(caller, tool.knowledge_base, arguments)
        assert tool.app is not None and tool.version is not None
        return _run_app(caller, tool.app, tool.version, arguments)
    except ApiError as exc:
        return Outcome(exc.message, {"code": exc.code}, True)
    except UpstreamError as exc:
        return Outcome(exc.caller_message(caller.request_id), {"code": "UpstreamError"}, True)


def _search(caller: Caller, knowledge_base: KnowledgeBase, arguments: dict[str, Any]) -> Outcome:
    query = arguments["query"]
    top_k = arguments.get("top_k", TOP_K_DEFAULT)
    options = RetrievalSettings.model_validate({**knowledge_base.retrieval, "top_k": top_k})
    hits = retrieve(caller.workspace, [knowledge_base], query, options)
    passages = [_passage(hit) for hit in hits]
    if not passages:
        text = f"Nothing in '{knowledge_base.name}' matches {query!r}."
    else:
        text = "\n\n".join(
            f"[{number}] {p['document_name']} (score {p['score']:.3f})\n{p['text']}"
            for number, p in enumerate(passages, start=1)
        )
    structured = {
        "knowledge_base": {"id": str(knowledge_base.pk), "name": knowledge_base.name},
        "query": query,
        "passages": passages,
    }
    return Outcome(text, structured)


def _passage(hit: Hit) -> dict[str, Any]:
    return {
        "text": hit.text,
        "document_id": hit.document_id,
        "document_name": hit.document_name,
        "score": round(hit.score, 6),
        "page": hit.page,
        "section": hit.section,
        "uri": naming.document_uri(uuid.UUID(hit.knowledge_base_id), uuid.UUID(hit.document_id)),
    }


def _run_app(
    caller: Caller, app: AgentApp, version: AppVersion, arguments: dict[str, Any]
) -> Outcome:
    prompt = arguments[PROMPT]
    if app.kind == AppKind.WORKFLOW:
        plan = plan_workflow(
            app=app,
            version=version,
            definition=WorkflowDefinition.model_validate(version.config),
            prompt=prompt,
            inputs={key: value for key, value in arguments.items() if key != PROMPT},
            session_id=None,
            surface=RunSurface.MCP,
            api_key=caller.api_key,
            request_id=caller.request_id,
        )
        finished, _ = collect(run_flow(plan))
    else:
        agent_plan = plan_run(
            app=app,
            version=version,
            config=AppConfigSchema.model_validate(version.config),
            call=Call(prompt=prompt),
            surface=RunSurface.MCP,
            api_key=caller.api_key,
            request_id=caller.request_id,
        )
        finished = run_to_end(run_agent(agent_plan))
    structured: dict[str, Any] = {
        "run_id": _run_id(caller, app),
        "session_id": finished.session_id,
        "finish_reason": finished.finish_reason,
    }
    if finished.doc_references is not None:
        structured["doc_references"] = finished.doc_references
    if finished.waiting_for is not None:
        # A human-input node paused the run: its question is the answer. MCP has no
        # session to answer it in; the DashScope app API resumes it with this session_id.
        structured["waiting_for"] = finished.waiting_for
        return Outcome(str(finished.waiting_for.get("question", "")), structured)
    return Outcome(finished.text, structured)


def _run_id(caller: Caller, app: AgentApp) -> str | None:
    """The run just recorded for this call (its request id is the HTTP request's)."""
    found = (
        Run.objects.in_workspace(caller.workspace)
        .filter(app=app, request_id=caller.request_id, parent_run_id__isnull=True)
        .values_list("pk", flat=True)
        .first()
    )
    return str(found) if found else None
