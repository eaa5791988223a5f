"""Reads of model endpoints: the platform's list, and what one workspace may call."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Exists, OuterRef, Prefetch, QuerySet, Subquery

from apps.accounts.models import Workspace
from apps.model_endpoints.models import (
    EndpointGrant,
    ModelEndpoint,
    ModelGroup,
    ModelGroupGrant,
    ModelGroupMember,
)


def all_endpoints() -> QuerySet[ModelEndpoint]:
    return ModelEndpoint.objects.all()


def endpoint_with_id(endpoint_id: str) -> ModelEndpoint | None:
    """The endpoint ``endpoint_id``; None when absent or malformed."""
    try:
        return ModelEndpoint.objects.get(pk=endpoint_id)
    except (ModelEndpoint.DoesNotExist, DjangoValidationError, ValueError):
        return None


def endpoint_named(name: str) -> ModelEndpoint | None:
    return ModelEndpoint.objects.filter(name=name).first()


def endpoints_for_workspace(workspace: Workspace) -> QuerySet[ModelEndpoint]:
    """Enabled endpoints granted to ``workspace``: the models its programs may call, each
    with ``is_default`` (the workspace's default for its capability) and
    ``response_cache_seconds`` (how long the gateway keeps its deterministic answers)."""
    grants = EndpointGrant.objects.filter(endpoint=OuterRef("pk"), workspace=workspace)
    return (
        ModelEndpoint.objects.filter(enabled=True)
        .filter(Exists(grants))
        .annotate(
            is_default=Exists(grants.filter(is_default=True)),
            response_cache_seconds=Subquery(grants.values("response_cache_seconds")[:1]),
        )
    )


def grants_of(endpoint: ModelEndpoint) -> QuerySet[EndpointGrant]:
    return endpoint.grants.select_related("workspace").order_by("workspace__slug")


def chat_model_registered() -> bool:
    """Whether any enabled endpoint can chat (for the newcomer's guidance)."""
    return ModelEndpoint.objects.filter(enabled=True, capabilities__contains=["chat"]).exists()


def _granted_groups(workspace: Workspace) -> QuerySet[ModelGroup]:
    grants = ModelGroupGrant.objects.filter(group=OuterRef("pk"), workspace=workspace)
    return (
        ModelGroup.objects.filter(enabled=True)
        .filter(Exists(grants))
        .annotate(response_cache_seconds=Subquery(grants.values("response_cache_seconds")[:1]))
        .prefetch_related(
            Prefetch("members", queryset=ModelGroupMember.objects.select_related("endpoint"))
        )
    )


def group_for_workspace(workspace: Workspace, name: str) -> ModelGroup | None:
    """The enabled group ``name`` granted to ``workspace``, its members (and their
    endpoints) loaded, with the grant's ``response_cache_seconds``."""
    return _granted_groups(workspace).filter(name=name).first()


def groups_for_workspace(workspace: Workspace) -> list[ModelGroup]:
    """The enabled groups granted to ``workspace`` that have an enabled member."""
    return [
        group
        for group in _granted_groups(workspace)
        if any(member.endpoint.enabled for member in group.members.all())
    ]


def all_groups() -> QuerySet[ModelGroup]:
    return ModelGroup.objects.prefetch_related(
        Prefetch("members", queryset=ModelGroupMember.objects.select_related("endpoint")),
        Prefetch("grants", queryset=ModelGroupGrant.objects.select_related("workspace")),
    )


def group_with_id(group_id: str) -> ModelGroup | None:
    try:
        return all_groups().get(pk=group_id)
    except (ModelGroup.DoesNotExist, DjangoValidationError, ValueError):
        return None


def name_taken(name: str) -> bool:
    """Whether an endpoint or a group is called ``name`` (one namespace for both)."""
    return (
        ModelEndpoint.objects.filter(name=name).exists()
        or ModelGroup.objects.filter(name=name).exists()
    )


def shared_capabilities(endpoints: list[ModelEndpoint]) -> set[str]:
    """What every one of ``endpoints`` can do: what a group of them can do."""
    return set.intersection(*(set(e.capabilities) for e in endpoints)) if endpoints else set()


@dataclass(frozen=True)
class GroupAsModel:
    """A model group as a workspace sees it in its list of models: what its enabled
    members can all do, the smallest context among them and the highest prices."""

    name: str
    display_name: str
    created_at: datetime
    capabilities: list[str]
    context_window: int | None
    embedding_dimension: int | None
    price_input_per_1k: Decimal
    price_output_per_1k: Decimal
    response_cache_seconds: int
    kind: str = "group"
    is_default: bool = False
    default_parameters: dict = field(default_factory=dict)


def group_as_model(group: ModelGroup) -> GroupAsModel:
    members = [m.endpoint for m in group.members.all() if m.endpoint.enabled]
    contexts = [e.context_window for e in members if e.context_window]
    return GroupAsModel(
        name=group.name,
        display_name=group.display_name,
        created_at=group.created_at,
        capabilities=sorted(shared_capabilities(members)),
        context_window=min(contexts) if contexts else None,
        embedding_dimension=members[0].embedding_dimension if members else None,
        price_input_per_1k=max((e.price_input_per_1k for e in members), default=Decimal(0)),
        price_output_per_1k=max((e.price_output_per_1k for e in members), default=Decimal(0)),
        response_cache_seconds=getattr(group, "response_cache_seconds", None) or 0,
    )


def models_for_workspace(workspace: Workspace) -> list:
    """Every name the workspace may call: its endpoints, then its model groups."""
    return [
        *endpoints_for_workspace(workspace),
        *(group_as_model(group) for group in groups_for_workspace(workspace)),
    ]
