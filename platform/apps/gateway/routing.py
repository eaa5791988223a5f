"""The gateway's core: a workspace asks for a model by name; this finds the endpoint it
was granted and calls the endpoint's provider. The HTTP surfaces (OpenAI-compatible,
DashScope-compatible) only translate their wire formats to and from these calls.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from apps.accounts.models import Workspace
from apps.endpoints.models import EndpointCapability, ModelEndpoint
from apps.endpoints.selectors import endpoints_for_workspace
from apps.endpoints.services import provider_class, provider_settings
from apps.registry import discovery
from plugins.base import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    ModelProvider,
    PluginSettings,
)
from studio.errors import ApiError, InvalidParameter

_PARAMETERS = ("temperature", "top_p", "max_tokens")


class ModelNotFound(ApiError):
    status = 404
    code = "ModelNotFound"


@dataclass(frozen=True)
class Route:
    endpoint: ModelEndpoint
    provider: ModelProvider
    settings: PluginSettings


def route(workspace: Workspace, model: str, capability: EndpointCapability) -> Route:
    """The endpoint ``model`` names for ``workspace``. Not granted, disabled or unknown are
    one answer, ``ModelNotFound``: a workspace cannot learn what others were granted."""
    endpoint = endpoints_for_workspace(workspace).filter(name=model).first()
    if endpoint is None:
        raise ModelNotFound(f"The model '{model}' does not exist or you do not have access to it.")
    if capability not in endpoint.capabilities:
        raise InvalidParameter(f"model: '{model}' does not support {capability}.")
    plugin_class = provider_class(endpoint.provider)
    return Route(
        endpoint=endpoint,
        provider=discovery.instance_of(plugin_class),
        settings=provider_settings(endpoint, plugin_class),
    )


def _upstream_request(route: Route, request: ChatRequest) -> ChatRequest:
    """The request as the provider sees it: the upstream model's name, and the endpoint's
    default parameters wherever the caller left one unset."""
    defaults = route.endpoint.default_parameters or {}
    updates = {"model": route.endpoint.upstream_model}
    for name in _PARAMETERS:
        if getattr(request, name) is None and defaults.get(name) is not None:
            updates[name] = defaults[name]
    return request.model_copy(update=updates)


def chat(route: Route, request: ChatRequest) -> ChatResponse:
    return route.provider.chat(_upstream_request(route, request), route.settings)


def chat_stream(route: Route, request: ChatRequest) -> Iterator[ChatChunk]:
    """The provider's stream, untouched: closing this generator closes the upstream call."""
    return route.provider.chat_stream(_upstream_request(route, request), route.settings)


def embed(route: Route, inputs: list[str], input_type: str = "document") -> EmbeddingResponse:
    request = EmbeddingRequest(
        model=route.endpoint.upstream_model, inputs=inputs, input_type=input_type
    )
    return route.provider.embed(request, route.settings)
