"""Reads of apps (agents and workflows), their versions, sessions and runs, always inside
one workspace."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Max, QuerySet
from django.utils import timezone

from apps.accounts.models import Workspace
from apps.accounts.tenancy import get_in_workspace
from apps.applications.models import AgentApp, AppVersion, Run, Session
from apps.model_endpoints.models import EndpointCapability
from apps.model_endpoints.selectors import endpoints_for_workspace


def chat_models(workspace: Workspace):
    """The endpoints granted to ``workspace`` that chat (a model is named by its ``name``)."""
    return endpoints_for_workspace(workspace).filter(
        capabilities__contains=[EndpointCapability.CHAT]
    )


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
