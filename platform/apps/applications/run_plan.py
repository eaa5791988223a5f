"""What a run is given: the ``RunPlan``, checked before the run starts (see ``planning``)."""

import uuid
from dataclasses import dataclass, field

from apps.accounts.models import ApiKey, User, Workspace
from apps.applications.config import AppConfigSchema
from apps.applications.models import AgentApp, AppVersion
from apps.knowledge.models import KnowledgeBase
from apps.knowledge.retrieval import Filters
from plugins.base import ChatMessage


@dataclass(frozen=True)
class Knowledge:
    """Where a run may search: the knowledge bases and the filters the caller set."""

    knowledge_bases: list[KnowledgeBase]
    filters: Filters = field(default_factory=Filters)


@dataclass
class RunPlan:
    """Everything a run needs, checked before it starts (bad input fails the request with
    a 4xx before any event is sent)."""

    workspace: Workspace
    app: AgentApp
    version: AppVersion | None
    config: AppConfigSchema
    surface: str
    prompt: str
    history: list[ChatMessage]
    system_prompt: str
    knowledge: Knowledge
    session_id: str
    api_key: ApiKey | None = None
    user: User | None = None
    request_id: str = ""
    #: Set when another app's run called this app as a tool: that run, and the apps up the
    #: chain of delegation (for the depth limit and loop detection).
    parent_run_id: uuid.UUID | None = None
    callers: tuple[str, ...] = ()
    #: Caller's sampling overrides (the app's own parameters otherwise).
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
