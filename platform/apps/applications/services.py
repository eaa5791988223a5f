"""Changes to apps: create, edit the draft, publish, roll back, delete; and what a run
leaves behind: its record with steps, and the session's new exchange. A workflow app's
draft is checked by ``drafts`` (workflow validation reads the node types, which record
their runs through this module), then stored here."""

import uuid
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from pydantic import ValidationError as PydanticValidationError

from apps.accounts.models import ApiKey, User, Workspace
from apps.applications import selectors
from apps.applications.config import AppConfigSchema
from apps.applications.models import AgentApp, AppKind, AppVersion, Run, Session, Step
from apps.http_tools.models import HttpTool
from apps.knowledge.models import KnowledgeBase
from apps.mcp_servers import selectors as mcp_selectors
from apps.mcp_servers import services as mcp_services
from apps.plugins.models import Kind, Plugin
from apps.plugins.plugin_settings import field_errors
from apps.plugins.selectors import usable_tools
from kernel.errors import Conflict, InvalidParameter
from kernel.ids import valid_uuids


def parse_config(data: dict[str, Any], *, prefix: str = "draft") -> AppConfigSchema:
    try:
        return AppConfigSchema.model_validate(data)
    except PydanticValidationError as exc:
        raise InvalidParameter(field_errors(exc, prefix)) from None


def check_references(workspace: Workspace, config: AppConfigSchema) -> None:
    """Everything ``config`` names exists in ``workspace`` (a draft may still be partial:
    no model yet, tools not enabled yet)."""
    if config.model and config.model not in selectors.chat_model_names(workspace):
        raise InvalidParameter(
            f"draft.model: '{config.model}' is not a chat model of this workspace."
        )
    wanted = {str(kb_id) for kb_id in config.knowledge.knowledge_base_ids}
    found = {
        str(pk)
        for pk in KnowledgeBase.objects.in_workspace(workspace)
        .filter(pk__in=wanted)
        .values_list("pk", flat=True)
    }
    if missing := sorted(wanted - found):
        raise InvalidParameter(
            f"draft.knowledge.knowledge_base_ids: no knowledge base {', '.join(missing)} here."
        )
    plugin_ids = {t.id for t in config.tools if t.type == "plugin"}
    installed = set(
        Plugin.objects.filter(kind=Kind.TOOL, plugin_id__in=plugin_ids).values_list(
            "plugin_id", flat=True
        )
    )
    if missing := sorted(plugin_ids - installed):
        raise InvalidParameter(f"draft.tools: no tool plugin {', '.join(missing)} is installed.")
    http_ids = [t.id for t in config.tools if t.type == "http"]
    found = {
        str(pk)
        for pk in HttpTool.objects.in_workspace(workspace)
        .filter(pk__in=valid_uuids(http_ids))
        .values_list("pk", flat=True)
    }
    if missing := sorted(set(http_ids) - found):
        raise InvalidParameter(f"draft.tools: no HTTP tool {', '.join(missing)} here.")
    mcp_ids = [t.id for t in config.tools if t.type == "mcp"]
    found = {str(tool.pk) for tool in mcp_selectors.tools_named(workspace, mcp_ids)}
    if missing := sorted(set(mcp_ids) - found):
        raise InvalidParameter(f"draft.tools: no MCP tool {', '.join(missing)} here.")


def check_publishable(workspace: Workspace, config: AppConfigSchema) -> None:
    """What publishing needs on top of ``check_references``: a model, usable tools with
    distinct names, and every prompt variable declared."""
    check_references(workspace, config)
    if not config.model:
        raise InvalidParameter("draft.model: choose a chat model before publishing.")
    usable = {p.plugin.plugin_id for p in usable_tools(workspace)}
    disabled = sorted(t.id for t in config.tools if t.type == "plugin" and t.id not in usable)
    if disabled:
        raise InvalidParameter(
            f"draft.tools: {', '.join(disabled)} not enabled in this workspace; enable them "
            "(plugins) or remove them from the app."
        )
    names = [t.id for t in config.tools if t.type == "plugin"]
    names += list(
        HttpTool.objects.in_workspace(workspace)
        .filter(pk__in=valid_uuids([t.id for t in config.tools if t.type == "http"]))
        .values_list("name", flat=True)
    )
    # check_references found every one of them: only the switch is left to check.
    mcp_ids = [t.id for t in config.tools if t.type == "mcp"]
    mcp_tools = list(mcp_selectors.tools_named(workspace, mcp_ids).select_related("server"))
    if switched_off := sorted(str(tool.pk) for tool in mcp_tools if not tool.enabled):
        raise InvalidParameter(
            f"draft.tools: the MCP tools {', '.join(switched_off)} are switched off; switch "
            "them on (MCP servers) or remove them from the app."
        )
    names += [mcp_services.function_name(tool) for tool in mcp_tools]
    if config.knowledge.as_tool and config.knowledge.knowledge_base_ids:
        names.append("knowledge_search")
    if clashes := sorted({name for name in names if names.count(name) > 1}):
        raise InvalidParameter(f"draft.tools: two tools are named {', '.join(clashes)}.")
    if undeclared := config.undeclared_variables():
        raise InvalidParameter(
            "draft.variables: the system prompt uses "
            + ", ".join("{{" + name + "}}" for name in undeclared)
            + "; declare each under variables."
        )


def _chat_models(workspace: Workspace):
    return selectors.chat_models(workspace)


def default_chat_model(workspace: Workspace) -> str:
    """The workspace's default chat model's name, or "" when it has none."""
    models = _chat_models(workspace)
    chosen = models.filter(grants__workspace=workspace, grants__is_default=True).first()
    chosen = chosen or models.first()
    return chosen.name if chosen else ""


def create_app(
    workspace: Workspace,
    *,
    name: str,
    description: str = "",
    draft: dict[str, Any] | None = None,
    by: User | None,
) -> AgentApp:
    """An agent app (workflow apps: ``drafts.create_app``)."""
    config = parse_config(draft or {})
    if not config.model:
        config = config.model_copy(update={"model": default_chat_model(workspace)})
    check_references(workspace, config)
    return AgentApp.objects.create(
        workspace=workspace,
        name=name,
        description=description,
        draft=config.model_dump(mode="json"),
        created_by=by,
    )


def update_app(
    app: AgentApp, *, name: str | None = None, description: str | None = None
) -> AgentApp:
    if name is not None:
        app.name = name
    if description is not None:
        app.description = description
    app.save(update_fields=["name", "description", "updated_at"])
    return app


def create_workflow_app(
    workspace: Workspace,
    *,
    name: str,
    description: str = "",
    definition: dict[str, Any],
    by: User | None,
) -> AgentApp:
    """A workflow app whose draft is ``definition`` (checked by the caller)."""
    return AgentApp.objects.create(
        workspace=workspace,
        kind=AppKind.WORKFLOW,
        name=name,
        description=description,
        draft=definition,
        created_by=by,
    )


def save_draft(app: AgentApp, draft: dict[str, Any]) -> AgentApp:
    """Store ``draft`` (checked by the caller) as the app's draft."""
    app.draft = draft
    app.save(update_fields=["draft", "updated_at"])
    return app


def update_draft(app: AgentApp, draft: dict[str, Any]) -> AgentApp:
    """Replace an agent app's draft (workflow apps: ``drafts.update_draft``)."""
    config = parse_config(draft)
    check_references(app.workspace, config)
    app.draft = config.model_dump(mode="json")
    app.save(update_fields=["draft", "updated_at"])
    return app


def delete_app(app: AgentApp) -> None:
    app.delete()


def publish(app: AgentApp, *, notes: str = "", by: User | None) -> AppVersion:
    """Snapshot an agent app's draft as the next version; the app API runs it from now on."""
    config = parse_config(app.draft)
    check_publishable(app.workspace, config)
    return add_version(app, config.model_dump(mode="json"), notes=notes, by=by)


def add_version(
    app: AgentApp, config: dict[str, Any], *, notes: str = "", by: User | None
) -> AppVersion:
    """Store ``config`` (checked by the caller) as the app's next version."""
    with transaction.atomic():
        # Lock the app so two publishers cannot take the same number.
        AgentApp.objects.select_for_update().filter(pk=app.pk).first()
        last = AppVersion.objects.filter(app=app).aggregate(last=Max("number"))["last"] or 0
        try:
            version = AppVersion.objects.create(
                workspace=app.workspace,
                app=app,
                number=last + 1,
                config=config,
                notes=notes,
                published_by=by,
            )
        except IntegrityError:
            raise Conflict("Another publish of this app happened at the same time.") from None
        AgentApp.objects.filter(pk=app.pk).update(updated_at=timezone.now())
    return version


def roll_back(app: AgentApp, version: AppVersion) -> AgentApp:
    """Copy ``version``'s configuration into the draft (publish it to make it live)."""
    app.draft = version.config
    app.save(update_fields=["draft", "updated_at"])
    return app


def delete_session(session: Session) -> None:
    session.delete()


def remember_exchange(
    app: AgentApp, session_id: str, prompt: str, answer: str, config: AppConfigSchema
) -> None:
    """Append one exchange to the session, keeping the last ``memory_rounds``."""
    now = timezone.now()
    keep = config.memory_rounds * 2
    with transaction.atomic():
        session = Session.objects.select_for_update().filter(pk=session_id, app=app).first()
        created = session is None
        if created:
            session = Session(id=session_id, workspace=app.workspace, app=app, messages=[])
        messages = [
            *session.messages,
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": answer},
        ]
        session.messages = messages[-keep:] if keep else []
        session.last_active_at = now
        session.save(force_insert=created)


def forget_idle_sessions(idle_since: datetime) -> int:
    """Delete every session without a call since ``idle_since``; how many went."""
    deleted, _ = Session.objects.filter(last_active_at__lt=idle_since).delete()
    return deleted


def record_run(
    *,
    run_id: uuid.UUID | None = None,
    parent_run_id: uuid.UUID | None = None,
    workspace: Workspace,
    app: AgentApp,
    version: AppVersion | None,
    session_id: str,
    surface: str,
    api_key: ApiKey | None,
    user: User | None,
    status: str,
    prompt: str,
    answer: str,
    error_code: str,
    error_message: str,
    usage: dict[str, list[int]],
    latency_ms: int,
    first_token_ms: int | None,
    request_id: str,
    started_at: datetime,
    steps: list[dict[str, Any]],
) -> Run:
    with transaction.atomic():
        run = Run.objects.create(
            id=run_id or uuid.uuid4(),
            parent_run_id=parent_run_id,
            workspace=workspace,
            app=app,
            version=version,
            session_id=session_id,
            surface=surface,
            api_key=api_key,
            user=user,
            status=status,
            prompt=prompt,
            answer=answer,
            error_code=error_code[:64],
            error_message=error_message,
            input_tokens=sum(tokens[0] for tokens in usage.values()),
            output_tokens=sum(tokens[1] for tokens in usage.values()),
            latency_ms=latency_ms,
            first_token_ms=first_token_ms,
            request_id=request_id,
            started_at=started_at,
            finished_at=timezone.now(),
        )
        Step.objects.bulk_create(
            Step(run=run, index=index, **step) for index, step in enumerate(steps, start=1)
        )
    return run
