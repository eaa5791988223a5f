"""Console API: model endpoints (platform admins) and the models a workspace may call."""

import itertools
import json
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest
from ninja import Router, Status

from apps.accounts.context import require_platform_admin, workspace_context
from apps.accounts.models import Workspace
from apps.accounts.permissions import Permission
from apps.endpoints import selectors, services
from apps.endpoints.models import EndpointCapability, ModelEndpoint
from apps.endpoints.schemas import (
    ConnectionTestOut,
    EndpointCreateIn,
    EndpointOut,
    EndpointUpdateIn,
    GrantIn,
    ModelChatIn,
    ModelChatOut,
    WorkspaceModelOut,
)
from apps.gateway import routing
from apps.gateway.streaming import event_stream_response
from apps.registry.plugin_settings import masked
from apps.registry.services import provider_schema
from plugins.base import ChatChunk, ChatMessage, ChatRequest, UpstreamError
from studio.errors import ApiError, NotFound

router = Router(tags=["model endpoints"])


def _get(endpoint_id: str) -> ModelEndpoint:
    try:
        return selectors.all_endpoints().get(pk=endpoint_id)
    except (ModelEndpoint.DoesNotExist, DjangoValidationError, ValueError):
        raise NotFound("Model endpoint not found.") from None


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
def get_endpoint(request: HttpRequest, endpoint_id: str):
    require_platform_admin(request)
    return _out(_get(endpoint_id))


@router.patch("/model-endpoints/{endpoint_id}", response=EndpointOut)
def update_endpoint(request: HttpRequest, endpoint_id: str, payload: EndpointUpdateIn):
    require_platform_admin(request)
    changes = payload.model_dump(exclude_unset=True)
    endpoint = services.update_endpoint(_get(endpoint_id), **changes)
    return _out(endpoint)


@router.delete("/model-endpoints/{endpoint_id}", response={204: None})
def delete_endpoint(request: HttpRequest, endpoint_id: str):
    require_platform_admin(request)
    services.delete_endpoint(_get(endpoint_id))
    return Status(204, None)


@router.post("/model-endpoints/{endpoint_id}/test", response=ConnectionTestOut)
def test_endpoint(request: HttpRequest, endpoint_id: str):
    """One tiny real call to the upstream: latency, or the upstream's error."""
    require_platform_admin(request)
    return services.test_connection(_get(endpoint_id))


@router.post("/model-endpoints/{endpoint_id}/grants", response={201: EndpointOut})
def grant(request: HttpRequest, endpoint_id: str, payload: GrantIn):
    user = require_platform_admin(request)
    endpoint = _get(endpoint_id)
    workspace = Workspace.objects.filter(slug=payload.workspace).first()
    if workspace is None:
        raise NotFound(f"Workspace '{payload.workspace}' not found.")
    services.grant(endpoint, workspace, by=user)
    return Status(201, _out(endpoint))


@router.delete("/model-endpoints/{endpoint_id}/grants/{slug}", response={204: None})
def revoke_grant(request: HttpRequest, endpoint_id: str, slug: str):
    require_platform_admin(request)
    endpoint = _get(endpoint_id)
    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is None:
        raise NotFound(f"Workspace '{slug}' not found.")
    services.revoke_grant(endpoint, workspace)
    return Status(204, None)


@router.get("/models", response=list[WorkspaceModelOut], tags=["models"])
def list_models(request: HttpRequest):
    """The models this workspace may call: granted to it and enabled."""
    ctx = workspace_context(request)
    ctx.require(Permission.USE_MODELS)
    return selectors.endpoints_for_workspace(ctx.workspace)


# --- the models playground: a signed-in member chats with a granted model --------------------


def _sse(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _usage(usage) -> dict[str, int] | None:
    return usage.model_dump() if usage is not None else None


def chat_events(chunks: Iterator[ChatChunk]) -> Iterator[str]:
    """The playground's stream, framed like an app playground's: ``text`` deltas, then one
    ``done`` (or ``error``: the status line is long gone)."""
    text: list[str] = []
    finish_reason, usage = "stop", None
    try:
        for chunk in chunks:
            if chunk.content:
                text.append(chunk.content)
                yield _sse("text", {"text": chunk.content})
            if chunk.finish_reason is not None:
                finish_reason = chunk.finish_reason
            usage = chunk.usage or usage
    except (ApiError, UpstreamError) as exc:
        code = exc.code if isinstance(exc, ApiError) else "InternalError.Upstream"
        yield _sse("error", {"code": code, "message": exc.message})
        return
    yield _sse(
        "done", {"text": "".join(text), "finish_reason": finish_reason, "usage": _usage(usage)}
    )


@router.post("/models/chat", response=ModelChatOut, tags=["models"])
def chat_with_model(request: HttpRequest, payload: ModelChatIn):
    """The model playground: one chat turn with a model granted to this workspace, metered
    and held to its quotas like a gateway call (surface ``console``). Streams server-sent
    events unless ``stream`` is false."""
    ctx = workspace_context(request)
    ctx.require(Permission.USE_MODELS)
    target = routing.route(
        ctx.workspace,
        payload.model,
        EndpointCapability.CHAT,
        surface="console",
        api_key=ctx.api_key,
    )
    chat_request = ChatRequest(
        model=payload.model,
        messages=[ChatMessage(role=m.role, content=m.content) for m in payload.messages],
        temperature=payload.temperature,
        top_p=payload.top_p,
        max_tokens=payload.max_tokens,
    )
    if not payload.stream:
        answer = routing.chat(target, chat_request)
        return {
            "text": answer.message.content or "",
            "finish_reason": answer.finish_reason,
            "usage": _usage(answer.usage),
        }
    chunks = routing.chat_stream(target, chat_request)
    # The first chunk here, so a model that refuses the call answers with an error status.
    first = next(chunks, None)
    rest = itertools.chain([first] if first is not None else [], chunks)
    return event_stream_response(chat_events(rest))
