"""Console API: model endpoints (platform admins) and the models a workspace may call."""

from django.http import HttpRequest
from ninja import Router, Status

from apps.accounts.context import require_platform_admin, workspace_context
from apps.accounts.permissions import Permission
from apps.accounts.selectors import get_workspace_for_user
from apps.model_endpoints import selectors, services
from apps.model_endpoints.models import ModelEndpoint
from apps.model_endpoints.schemas import (
    ConnectionTestOut,
    EndpointCreateIn,
    EndpointOut,
    EndpointUpdateIn,
    GrantIn,
    WorkspaceModelOut,
    WorkspaceModelUpdateIn,
)
from apps.plugins.plugin_settings import masked
from apps.plugins.services import provider_schema
from kernel.errors import NotFound
from kernel.openapi import UUIDText

router = Router(tags=["model endpoints"])


def _get(endpoint_id: str) -> ModelEndpoint:
    endpoint = selectors.endpoint_with_id(endpoint_id)
    if endpoint is None:
        raise NotFound("Model endpoint not found.")
    return endpoint


def _out(endpoint: ModelEndpoint) -> ModelEndpoint:
    # The response schema reads model fields; these two are computed for it.
    endpoint.settings = masked(
        services.stored_settings(endpoint), provider_schema(endpoint.provider)
    )
    endpoint.workspaces = [grant.workspace.slug for grant in selectors.grants_of(endpoint)]
    return endpoint


@router.get("/model-endpoints", response=list[EndpointOut])
def list_endpoints(request: HttpRequest):
    require_platform_admin(request)
    return [_out(e) for e in selectors.all_endpoints()]


@router.post("/model-endpoints", response={201: EndpointOut})
def create_endpoint(request: HttpRequest, payload: EndpointCreateIn):
    """Register an upstream model behind a model-provider plugin."""
    require_platform_admin(request)
    endpoint = services.create_endpoint(**payload.model_dump())
    return Status(201, _out(endpoint))


@router.get("/model-endpoints/{endpoint_id}", response=EndpointOut)
def get_endpoint(request: HttpRequest, endpoint_id: UUIDText):
    require_platform_admin(request)
    return _out(_get(endpoint_id))


@router.patch("/model-endpoints/{endpoint_id}", response=EndpointOut)
def update_endpoint(request: HttpRequest, endpoint_id: UUIDText, payload: EndpointUpdateIn):
    require_platform_admin(request)
    changes = payload.model_dump(exclude_unset=True)
    endpoint = services.update_endpoint(_get(endpoint_id), **changes)
    return _out(endpoint)


@router.delete("/model-endpoints/{endpoint_id}", response={204: None})
def delete_endpoint(request: HttpRequest, endpoint_id: UUIDText):
    require_platform_admin(request)
    services.delete_endpoint(_get(endpoint_id))
    return Status(204, None)


@router.post("/model-endpoints/{endpoint_id}/test", response=ConnectionTestOut)
def test_endpoint(request: HttpRequest, endpoint_id: UUIDText):
    """One tiny real call to the upstream: latency, or the upstream's error."""
    require_platform_admin(request)
    return services.test_connection(_get(endpoint_id))


@router.post("/model-endpoints/{endpoint_id}/grants", response={201: EndpointOut})
def grant(request: HttpRequest, endpoint_id: UUIDText, payload: GrantIn):
    user = require_platform_admin(request)
    endpoint = _get(endpoint_id)
    services.grant(endpoint, get_workspace_for_user(user, payload.workspace), by=user)
    return Status(201, _out(endpoint))


@router.delete("/model-endpoints/{endpoint_id}/grants/{slug}", response={204: None})
def revoke_grant(request: HttpRequest, endpoint_id: UUIDText, slug: str):
    admin = require_platform_admin(request)
    endpoint = _get(endpoint_id)
    services.revoke_grant(endpoint, get_workspace_for_user(admin, slug))
    return Status(204, None)


@router.get("/models", response=list[WorkspaceModelOut], tags=["models"])
def list_models(request: HttpRequest):
    """The models this workspace may call: endpoints and model groups granted to it and
    enabled."""
    ctx = workspace_context(request)
    ctx.require(Permission.USE_MODELS)
    return selectors.models_for_workspace(ctx.workspace)


# ``path:``: model names may hold slashes (``Qwen/Qwen3-8B``); the suffix keeps the pattern
# from catching ``/models/chat`` (the playground).
@router.patch("/models/{path:name}/settings", response=WorkspaceModelOut, tags=["models"])
def update_model(request: HttpRequest, name: str, payload: WorkspaceModelUpdateIn):
    """The workspace's own settings of a model granted to it: the response cache."""
    ctx = workspace_context(request)
    ctx.require(Permission.CONFIGURE_MODELS)
    services.set_response_cache(ctx.workspace, name, payload.response_cache_seconds)
    return next(m for m in selectors.models_for_workspace(ctx.workspace) if m.name == name)
