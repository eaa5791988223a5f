"""Reads of apps (agents and workflows), their versions, sessions and runs, always inside
one workspace."""

import copy
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Max, QuerySet
from django.utils import timezone

from apps.accounts.models import Workspace
from apps.accounts.tenancy import get_in_workspace
from apps.applications.config import AppConfigSchema
from apps.applications.models import AgentApp, AppKind, AppVersion, Run, Session
from apps.knowledge.models import KnowledgeBase
from apps.model_endpoints.models import EndpointCapability
from apps.model_endpoints.selectors import (
    endpoints_for_workspace,
    group_as_model,
    groups_for_workspace,
)
from kernel import config_cache
from kernel.errors import NotFound
from kernel.ids import canonical_uuid, valid_uuids


def chat_models(workspace: Workspace):
    """The endpoints granted to ``workspace`` that chat (a model is named by its ``name``)."""
    return endpoints_for_workspace(workspace).filter(
        capabilities__contains=[EndpointCapability.CHAT]
    )


def chat_model_names(workspace: Workspace) -> set[str]:
    """Every name ``workspace`` may chat with: its chat endpoints and the model groups
    granted to it whose members all chat."""
    groups = {
        group.name
        for group in groups_for_workspace(workspace)
        if EndpointCapability.CHAT in group_as_model(group).capabilities
    }
    return set(chat_models(workspace).values_list("name", flat=True)) | groups


def apps(workspace: Workspace) -> QuerySet[AgentApp]:
    return AgentApp.objects.in_workspace(workspace).annotate(
        published_version=Max("versions__number"), version_count=Count("versions")
    )


def app(workspace: Workspace, app_id: object) -> AgentApp:
    return get_in_workspace(apps(workspace), workspace, pk=app_id)


def versions(app: AgentApp) -> QuerySet[AppVersion]:
    return (
        AppVersion.objects.in_workspace(app.workspace)
        .filter(app=app)
        .select_related("published_by")
    )


def version(app: AgentApp, number: int) -> AppVersion:
    return get_in_workspace(versions(app), app.workspace, number=number)


def latest_version(app: AgentApp) -> AppVersion | None:
    """The version the app API runs: the last one published."""
    return versions(app).order_by("-number").first()


@dataclass(frozen=True)
class PublishedApp:
    """An app as the app API runs it: the app, its latest published version (None when it
    has none) and, for an agent app, that version's configuration and the knowledge bases
    it attaches (with their embedding and rerank endpoints)."""

    app: AgentApp
    version: AppVersion | None
    config: AppConfigSchema | None = None
    knowledge_bases: tuple[KnowledgeBase, ...] = ()


def published_app(workspace: Workspace, app_id: object) -> PublishedApp:
    """``workspace``'s app ``app_id`` with its live version, or ``NotFound``.

    Read on every call of the app API, so cached per process (``kernel.config_cache``):
    any committed change to an app, a version or a knowledge base bumps the configuration
    version (``ApplicationsConfig.ready``), and the very next call, in any process, reads
    them again. The cached instances are shared by every thread of the process, so a
    caller treats them as read-only; the app comes back as this call's own copy, bound to
    the caller's ``workspace`` (the key is per workspace: another's id is not found)."""
    key = canonical_uuid(app_id)
    if not key:
        raise NotFound(f"App '{app_id}' does not exist in this workspace.")
    # An unknown id raises inside the load, so it is never cached: made-up ids cannot
    # fill the cache.
    found = config_cache.cached(
        ("published-app", workspace.pk, key),
        config_cache.current_version(),
        lambda: _load_published(workspace, key),
    )
    return replace(found, app=_own_copy(found.app, workspace))


def _load_published(workspace: Workspace, app_id: str) -> PublishedApp:
    app = AgentApp.objects.in_workspace(workspace).filter(pk=app_id).first()
    if app is None:
        raise NotFound(f"App '{app_id}' does not exist in this workspace.")
    version = latest_version(app)
    if version is None or app.kind != AppKind.AGENT:
        return PublishedApp(app=app, version=version)
    config = AppConfigSchema.model_validate(version.config)
    knowledge_bases = knowledge_bases_named(workspace, config.knowledge.knowledge_base_ids)
    return PublishedApp(app, version, config, tuple(knowledge_bases))


def _own_copy(app: AgentApp, workspace: Workspace) -> AgentApp:
    """A copy of the cached ``app`` for one call (what a call sets on it stays its own),
    holding ``workspace`` so that ``app.workspace`` asks nothing of the database."""
    mine = copy.copy(app)
    mine.workspace = workspace
    return mine


def knowledge_bases_named(workspace: Workspace, ids: Iterable[object]) -> list[KnowledgeBase]:
    """Those of ``ids`` that are ``workspace``'s knowledge bases, with what retrieval reads
    of them (their endpoints, their workspace)."""
    wanted = valid_uuids(ids)
    if not wanted:
        return []
    return list(
        KnowledgeBase.objects.in_workspace(workspace)
        .filter(pk__in=wanted)
        .select_related("embedding_endpoint", "rerank_endpoint", "workspace")
    )


def session_idle_limit() -> timedelta:
    return timedelta(seconds=settings.AGENT_SESSION_IDLE_SECONDS)


def live_session(app: AgentApp, session_id: str) -> Session | None:
    """The app's session ``session_id``, unless it is unknown, another app's, or idle too long."""
    cutoff = timezone.now() - session_idle_limit()
    return (
        Session.objects.in_workspace(app.workspace)
        .filter(app=app, pk=session_id, last_active_at__gte=cutoff)
        .first()
    )


def sessions(app: AgentApp) -> QuerySet[Session]:
    cutoff = timezone.now() - session_idle_limit()
    return Session.objects.in_workspace(app.workspace).filter(app=app, last_active_at__gte=cutoff)


def session(app: AgentApp, session_id: str) -> Session:
    return get_in_workspace(sessions(app), app.workspace, pk=session_id)


def runs(app: AgentApp, status: str | None = None) -> QuerySet[Run]:
    found = Run.objects.in_workspace(app.workspace).filter(app=app).select_related("version")
    return found.filter(status=status) if status else found


def run(app: AgentApp, run_id: object) -> Run:
    """The app's run with its steps and, as ``children``, the runs it started."""
    found = get_in_workspace(runs(app).prefetch_related("steps"), app.workspace, pk=run_id)
    found.children = list(child_runs(found))
    return found


def child_runs(run: Run) -> QuerySet[Run]:
    """The runs ``run`` started (an agent or app node calling another app), in order."""
    return (
        Run.objects.in_workspace(run.workspace)
        .filter(parent_run_id=run.pk)
        .select_related("app", "version")
        .order_by("started_at")
    )
