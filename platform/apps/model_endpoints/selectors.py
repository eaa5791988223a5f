"""Reads of model endpoints: the platform's list, and what one workspace may call."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Exists, OuterRef, QuerySet, Subquery

from apps.accounts.models import Workspace
from apps.model_endpoints.models import EndpointGrant, ModelEndpoint


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
