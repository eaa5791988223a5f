"""Console API: apps (agents and workflows), their draft, the playground, versions,
sessions and runs; the workflow editor's own endpoints are ``workflow_api``'s."""

import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any

from django.http import HttpRequest
from ninja import Body, Router, Status
from ninja.pagination import paginate

from apps.accounts.context import WorkspaceContext, caller_user, workspace_context
from apps.accounts.permissions import Permission
from apps.applications import drafts, selectors, services
from apps.applications.delegation import run_agent, run_flow
from apps.applications.events import (
    Event,
    Finished,
    NodeFinished,
    NodeStarted,
    TextDelta,
    Thought,
)
from apps.applications.models import AgentApp, AppKind, AppVersion, RunStatus, RunSurface
from apps.applications.planning import Call, plan_run
from apps.applications.runtime import run_to_end
from apps.applications.schemas import (
    AppCreateIn,
    AppOut,
    AppUpdateIn,
    DiffOut,
    DraftIn,
    ImportIn,
    PlaygroundIn,
    PublishIn,
    RunDetailOut,
    RunOut,
    SessionOut,
    VersionOut,
)
from apps.applications.workflow import validation
from apps.applications.workflow.runner import plan_workflow
from apps.applications.workflow_api import router as workflow_router
from apps.gateway.streaming import error_event, event_stream_response, named_event, started
from kernel.errors import ApiError, InvalidParameter
from kernel.openapi import GATEWAY_ERRORS, also_answers
from kernel.paging import Paging
from kernel.request_id import request_id_of
from plugins.base import ChatMessage, UpstreamError

router = Router(tags=["apps"])
router.add_router("", workflow_router)


def _app(request: HttpRequest, app_id: uuid.UUID, permission: Permission) -> AgentApp:
    ctx = workspace_context(request)
    ctx.require(permission)
    return selectors.app(ctx.workspace, app_id)


def _app_out(app: AgentApp) -> AgentApp:
    # Re-read with the version annotations the list has.
    return selectors.app(app.workspace, app.pk)


def _version_out(version: AppVersion) -> dict[str, Any]:
    return {
        "number": version.number,
        "notes": version.notes,
        "config": version.config,
        "published_by": version.published_by.email if version.published_by else None,
        "published_at": version.published_at,
    }


# --- apps and their draft -----------------------------------------------------------------------


@router.get("/apps", response=list[AppOut])
def list_apps(request: HttpRequest):
    ctx = workspace_context(request)
    ctx.require(Permission.VIEW_WORKSPACE)
    return list(selectors.apps(ctx.workspace))


@router.post("/apps", response={201: AppOut})
def create_app(request: HttpRequest, payload: AppCreateIn):
    ctx = workspace_context(request)
    ctx.require(Permission.EDIT_APPS)
    app = drafts.create_app(ctx.workspace, **payload.model_dump(), by=caller_user(request))
    return Status(201, _app_out(app))


@router.post("/apps/import", response={201: AppOut})
def import_app(request: HttpRequest, payload: ImportIn):
    """A new workflow app from an exported YAML document (checked as a save is; a newer
    format than this platform reads is refused)."""
    ctx = workspace_context(request)
    ctx.require(Permission.EDIT_APPS)
    app = drafts.import_workflow(
        ctx.workspace, text=payload.yaml, name=payload.name, by=caller_user(request)
    )
    return Status(201, _app_out(app))


@router.get("/apps/{app_id}", response=AppOut)
def get_app(request: HttpRequest, app_id: uuid.UUID):
    return _app(request, app_id, Permission.VIEW_WORKSPACE)


@router.patch("/apps/{app_id}", response=AppOut)
def update_app(request: HttpRequest, app_id: uuid.UUID, payload: AppUpdateIn):
    app = _app(request, app_id, Permission.EDIT_APPS)
    services.update_app(app, **payload.model_dump(exclude_unset=True))
    return _app_out(app)


@router.put("/apps/{app_id}/draft", response=AppOut)
def update_draft(request: HttpRequest, app_id: uuid.UUID, payload: Body[DraftIn]):
    """Replace the draft (checked, not yet live: publish makes it live): an agent app's
    configuration (AppConfigSchema), or a workflow app's definition (WorkflowDefinition,
    saved only when valid: a 400 ``WorkflowInvalid`` names each node's problem)."""
    app = _app(request, app_id, Permission.EDIT_APPS)
    drafts.update_draft(app, payload)
    return _app_out(app)


@router.delete("/apps/{app_id}", response={204: None})
def delete_app(request: HttpRequest, app_id: uuid.UUID):
    services.delete_app(_app(request, app_id, Permission.EDIT_APPS))
    return Status(204, None)


# --- playground ---------------------------------------------------------------------------------


def playground_events(events: Iterator[Event], request_id: str) -> Iterator[str]:
    """The playground's stream: ``thought``, ``text``, a workflow's ``node_started`` and
    ``node_finished``, and one ``done`` (or ``error``)."""
    try:
        for event in events:
            if isinstance(event, TextDelta):
                yield named_event("text", {"text": event.text})
            elif isinstance(event, Thought):
                yield named_event("thought", event.data)
            elif isinstance(event, NodeStarted | NodeFinished):
                name = "node_started" if isinstance(event, NodeStarted) else "node_finished"
                yield named_event(name, dataclasses.asdict(event))
            elif isinstance(event, Finished):
                yield named_event("done", _finished_out(event))
    except (ApiError, UpstreamError) as exc:
        yield error_event(exc, request_id)


def _finished_out(finished: Finished) -> dict[str, Any]:
    return {
        "text": finished.text,
        "session_id": finished.session_id,
        "thoughts": finished.thoughts,
        "doc_references": finished.doc_references,
        "usage": {"models": finished.usage},
        "waiting_for": finished.waiting_for,
    }


@router.post(
    "/apps/{app_id}/playground",
    openapi_extra=also_answers(*GATEWAY_ERRORS, event_stream=True),
)
def playground(request: HttpRequest, app_id: uuid.UUID, payload: PlaygroundIn):
    """Run the draft, as the app API would run it once published. Streams server-sent
    events (``thought``, ``text``, a workflow's ``node_started`` / ``node_finished``, then
    ``done`` or ``error``) unless ``stream`` is false. A workflow takes ``variables`` as its
    start node's inputs; ``done.waiting_for`` names a human-input node's question, answered
    by the next call's prompt with the same ``session_id``."""
    ctx = workspace_context(request)
    ctx.require(Permission.USE_MODELS)
    app = selectors.app(ctx.workspace, app_id)
    run = _workflow_events if app.kind == AppKind.WORKFLOW else _agent_events
    return _played(request, payload, run(ctx, request_id_of(request), app, payload))


def _workflow_events(
    ctx: WorkspaceContext, request_id: str, app: AgentApp, payload: PlaygroundIn
) -> Iterator[Event]:
    """A workflow draft's run (checked first: a template may still lack what it needs)."""
    plan = plan_workflow(
        app=app,
        version=None,
        definition=validation.check(ctx.workspace, app.draft),
        prompt=payload.prompt or _last_user_message(payload.messages),
        inputs=payload.variables,
        session_id=payload.session_id,
        surface=RunSurface.PLAYGROUND,
        api_key=ctx.api_key,
        user=ctx.user,
        request_id=request_id,
    )
    return run_flow(plan)


def _agent_events(
    ctx: WorkspaceContext, request_id: str, app: AgentApp, payload: PlaygroundIn
) -> Iterator[Event]:
    config = services.parse_config(app.draft)
    if not config.model:
        raise InvalidParameter("draft.model: choose a chat model first.")
    messages = None
    if payload.messages:
        try:
            messages = [ChatMessage.model_validate(m) for m in payload.messages]
        except ValueError:
            raise InvalidParameter("messages: each needs a role and a content.") from None
    plan = plan_run(
        app=app,
        version=None,
        config=config,
        call=Call(
            prompt=payload.prompt,
            messages=messages,
            session_id=payload.session_id,
            variables=payload.variables,
        ),
        surface=RunSurface.PLAYGROUND,
        api_key=ctx.api_key,
        user=ctx.user,
        request_id=request_id,
    )
    return run_agent(plan)


def _played(request: HttpRequest, payload: PlaygroundIn, events: Iterator[Event]):
    if not payload.stream:
        return _finished_out(run_to_end(events))
    return event_stream_response(playground_events(started(events), request_id_of(request)))


def _last_user_message(messages: list[dict[str, Any]] | None) -> str | None:
    users = [m.get("content") for m in messages or [] if m.get("role") == "user"]
    return users[-1] if users and isinstance(users[-1], str) else None


# --- versions -----------------------------------------------------------------------------------


@router.post("/apps/{app_id}/publish", response={201: VersionOut})
def publish(request: HttpRequest, app_id: uuid.UUID, payload: PublishIn):
    """Publish the draft as the next version, with release notes; the API runs it now."""
    app = _app(request, app_id, Permission.EDIT_APPS)
    version = drafts.publish(app, notes=payload.notes, by=caller_user(request))
    return Status(201, _version_out(version))


@router.get("/apps/{app_id}/versions", response=list[VersionOut])
def list_versions(request: HttpRequest, app_id: uuid.UUID):
    app = _app(request, app_id, Permission.VIEW_WORKSPACE)
    return [_version_out(v) for v in selectors.versions(app)]


@router.get("/apps/{app_id}/versions/{number}", response=VersionOut)
def get_version(request: HttpRequest, app_id: uuid.UUID, number: int):
    app = _app(request, app_id, Permission.VIEW_WORKSPACE)
    return _version_out(selectors.version(app, number))


@router.get("/apps/{app_id}/versions/{number}/diff", response=DiffOut)
def diff_version(request: HttpRequest, app_id: uuid.UUID, number: int, against: str = "draft"):
    """What changed from version ``number`` to ``against``: the draft, or another version."""
    app = _app(request, app_id, Permission.VIEW_WORKSPACE)
    base = selectors.version(app, number)
    if against == "draft":
        target = app.draft
    elif against.isdigit():
        target = selectors.version(app, int(against)).config
    else:
        raise InvalidParameter("against: 'draft' or a version number.")
    changes = drafts.diff(app, base.config, target)
    return {"base": str(number), "target": against, "changes": changes}


@router.post("/apps/{app_id}/versions/{number}/rollback", response=AppOut)
def roll_back(request: HttpRequest, app_id: uuid.UUID, number: int):
    """Copy version ``number`` into the draft; publish to make it live again."""
    app = _app(request, app_id, Permission.EDIT_APPS)
    services.roll_back(app, selectors.version(app, number))
    return _app_out(app)


# --- sessions and runs --------------------------------------------------------------------------


@router.get("/apps/{app_id}/sessions", response=list[SessionOut])
@paginate(Paging)
def list_sessions(request: HttpRequest, app_id: uuid.UUID):
    return selectors.sessions(_app(request, app_id, Permission.VIEW_WORKSPACE))


@router.get("/apps/{app_id}/sessions/{session_id}", response=SessionOut)
def get_session(request: HttpRequest, app_id: uuid.UUID, session_id: str):
    app = _app(request, app_id, Permission.VIEW_WORKSPACE)
    return selectors.session(app, session_id)


@router.delete("/apps/{app_id}/sessions/{session_id}", response={204: None})
def delete_session(request: HttpRequest, app_id: uuid.UUID, session_id: str):
    app = _app(request, app_id, Permission.EDIT_APPS)
    services.delete_session(selectors.session(app, session_id))
    return Status(204, None)


@router.get("/apps/{app_id}/runs", response=list[RunOut])
@paginate(Paging)
def list_runs(request: HttpRequest, app_id: uuid.UUID, status: RunStatus | None = None):
    app = _app(request, app_id, Permission.VIEW_WORKSPACE)
    return selectors.runs(app, status)


@router.get("/apps/{app_id}/runs/{run_id}", response=RunDetailOut)
def get_run(request: HttpRequest, app_id: uuid.UUID, run_id: uuid.UUID):
    """A run with its steps (each workflow node, retrieval, model call and tool call, in
    order) and the runs it started (``children``)."""
    app = _app(request, app_id, Permission.VIEW_WORKSPACE)
    return selectors.run(app, run_id)
