"""Reads of model endpoints: the platform's list, and what one workspace may call."""

from django.db.models import QuerySet

from apps.accounts.models import Workspace
from apps.endpoints.models import EndpointGrant, ModelEndpoint


def all_endpoints() -> QuerySet[ModelEndpoint]:
    return ModelEndpoint.objects.all()


def endpoints_for_workspace(workspace: Workspace) -> QuerySet[ModelEndpoint]:
    """Enabled endpoints granted to ``workspace``: the models its programs may call."""
    return ModelEndpoint.objects.filter(enabled=True, grants__workspace=workspace)


def grants_of(endpoint: ModelEndpoint) -> QuerySet[EndpointGrant]:
    return endpoint.grants.select_related("workspace").order_by("workspace__slug")
