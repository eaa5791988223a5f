"""The gateway's core: a workspace asks for a model by name; this finds the endpoint it
was granted, calls the endpoint's provider, and meters the call. The HTTP surfaces
(OpenAI-compatible, DashScope-compatible) only translate their wire formats.
"""

import contextvars
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings

from apps.accounts.models import ApiKey, Workspace
from apps.gateway import response_cache
from apps.gateway.input_limits import (
    check_chat_messages,
    check_embedding_inputs,
    check_embedding_tokens,
    check_prompt_tokens,
)
from apps.model_endpoints.models import EndpointCapability, ModelEndpoint
from apps.model_endpoints.selectors import endpoints_for_workspace
from apps.model_endpoints.services import provider_class, provider_settings
from apps.plugins import discovery
from apps.usage.models import CallStatus
from apps.usage.recorder import Meter
from kernel import config_cache
from kernel.errors import ApiError, InvalidParameter
from kernel.tokens import count_tokens, messages_text
from plugins.base import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    ModelProvider,
    PluginSettings,
    RerankRequest,
    RerankResponse,
    UpstreamError,
)

_PARAMETERS = ("temperature", "top_p", "max_tokens")
T = TypeVar("T", EmbeddingResponse, RerankResponse)


class ModelNotFound(ApiError):
    status = 404
    code = "ModelNotFound"


@dataclass(frozen=True)
class Route:
    """One call's way to its upstream, and the meter that records it."""

    endpoint: ModelEndpoint
    provider: ModelProvider
    settings: PluginSettings
    meter: Meter


def route(
    workspace: Workspace,
    model: str,
    capability: EndpointCapability,
    *,
    surface: str,
    api_key: ApiKey | None = None,
    app_id: str | None = None,
    batch_id: str | None = None,
    request_id: str | None = None,
    node_id: str | None = None,
) -> Route:
    """The endpoint ``model`` names for ``workspace``. Not granted, disabled or
    unknown are one answer, ``ModelNotFound``: a workspace cannot learn what others have.
    ``app_id`` / ``batch_id`` tag the call's usage with the agent app or the batch that
    made it; ``node_id`` the workflow node of that app; ``request_id`` names the call where
    no HTTP request does (a batch line)."""
    version = config_cache.current_version()
    resolved = config_cache.cached(
        ("route", workspace.pk, model), version, lambda: _resolve(workspace, model)
    )
    return _route_of(
        resolved,
        model,
        capability,
        Meter(
            resolved[0],
            workspace,
            api_key,
            surface,
            capability,
            config_version=version,
            app_id=app_id,
            batch_id=batch_id,
            app_node=node_id,
            **({"request_id": request_id} if request_id else {}),
        ),
    )


async def aroute(
    workspace: Workspace,
    model: str,
    capability: EndpointCapability,
    *,
    surface: str,
    api_key: ApiKey | None = None,
) -> Route:
    """``route`` for async views: one Redis GET on the loop when the route is cached, the
    database (on a thread) only after a change to the configuration."""
    version = await config_cache.acurrent_version()
    resolved = await config_cache.acached(
        ("route", workspace.pk, model), version, sync_to_async(_resolve), workspace, model
    )
    meter = Meter(resolved[0], workspace, api_key, surface, capability, config_version=version)
    return _route_of(resolved, model, capability, meter)


_Resolved = tuple[ModelEndpoint | None, type[ModelProvider] | None, PluginSettings | None]


def _route_of(
    resolved: _Resolved, model: str, capability: EndpointCapability, meter: Meter
) -> Route:
    endpoint, plugin_class, provider_settings_ = resolved
    if endpoint is None:
        raise ModelNotFound(f"The model '{model}' does not exist or you do not have access to it.")
    if capability not in endpoint.capabilities:
        raise InvalidParameter(f"model: '{model}' does not support {capability}.")
    return Route(
        endpoint=endpoint,
        provider=discovery.instance_of(plugin_class),
        settings=provider_settings_,
        meter=meter,
    )


def _resolve(workspace: Workspace, model: str) -> _Resolved:
    """What routing reads from the database; cached per process (kernel.config_cache)."""
    endpoint = endpoints_for_workspace(workspace).filter(name=model).first()
    if endpoint is None:
        return None, None, None
    plugin_class = provider_class(endpoint.provider)
    return endpoint, plugin_class, provider_settings(endpoint, plugin_class)


def _upstream_request(route: Route, request: ChatRequest) -> ChatRequest:
    """The request as the provider sees it: the upstream model's name, and the endpoint's
    default parameters wherever the caller left one unset."""
    defaults = route.endpoint.default_parameters or {}
    updates = {"model": route.endpoint.upstream_model}
    for name in _PARAMETERS:
        if getattr(request, name) is None and defaults.get(name) is not None:
            updates[name] = defaults[name]
    return request.model_copy(update=updates)


def _reservation(route: Route, request: ChatRequest) -> int:
    """The tokens to reserve against the quotas, the prompt's and the most the answer may
    take, once the request is within the input limits."""
    check_chat_messages(len(request.messages))
    route.meter.prompt_text = messages_text(request.messages)
    prompt = count_tokens(route.meter.prompt_text, route.endpoint.upstream_model)
    check_prompt_tokens(prompt)
    return prompt + (request.max_tokens or settings.QUOTA_DEFAULT_OUTPUT_RESERVATION)


def _admit(route: Route, request: ChatRequest) -> None:
    route.meter.admit(_reservation(route, request))


def _cache(route: Route, request: ChatRequest) -> response_cache.ResponseCache | None:
    """Where the answer to ``request`` is cached, when the workspace keeps this model's
    answers and the request is deterministic; marks the meter a hit or a miss."""
    seconds = getattr(route.endpoint, "response_cache_seconds", None) or 0
    cache = response_cache.cache_for(route.meter.workspace.pk, route.endpoint.pk, seconds, request)
    if cache is not None:
        route.meter.cache = "miss"
    return cache


def _cached_answer(route: Route, cache: response_cache.ResponseCache | None) -> ChatResponse | None:
    """The cached answer, admitted as a call that reserves no tokens (request and
    concurrency limits still apply)."""
    answer = cache.answer() if cache is not None else None
    if answer is not None:
        route.meter.cache = "hit"
        route.meter.admit(0)
    return answer


def chat(route: Route, request: ChatRequest) -> ChatResponse:
    request = _upstream_request(route, request)
    cache = _cache(route, request)
    if (cached := _cached_answer(route, cache)) is not None:
        route.meter.finish(
            status=CallStatus.OK, usage=cached.usage, completion_text=cached.message.content or ""
        )
        return cached
    _admit(route, request)
    try:
        answer = route.provider.chat(request, route.settings)
    except UpstreamError as exc:
        route.meter.finish(status=CallStatus.ERROR, error_code=type(exc).__name__)
        raise
    route.meter.finish(
        status=CallStatus.OK, usage=answer.usage, completion_text=answer.message.content or ""
    )
    if cache is not None:
        cache.keep(answer)
    return answer


def chat_stream(route: Route, request: ChatRequest) -> Iterator[ChatChunk]:
    """The provider's stream, metered: closing this generator closes the upstream call
    and records the call as cancelled. A cached answer is replayed as a stream; a
    cacheable one is kept once it has streamed to its end."""
    request = _upstream_request(route, request)
    cache = _cache(route, request)
    if (cached := _cached_answer(route, cache)) is not None:
        return route.meter.watch(response_cache.replay(cached))
    _admit(route, request)
    chunks = route.provider.chat_stream(request, route.settings)
    return route.meter.watch(cache.kept(chunks) if cache is not None else chunks)


async def _acached_answer(
    route: Route, cache: response_cache.ResponseCache | None
) -> ChatResponse | None:
    """``_cached_answer``, for async code."""
    answer = await cache.aanswer() if cache is not None else None
    if answer is not None:
        route.meter.cache = "hit"
        await route.meter.aadmit(0)
    return answer


async def achat(route: Route, request: ChatRequest) -> ChatResponse:
    """``chat`` for async views: admission, the provider's call and metering on the loop."""
    request = _upstream_request(route, request)
    cache = _cache(route, request)
    if (cached := await _acached_answer(route, cache)) is not None:
        await route.meter.afinish(
            status=CallStatus.OK, usage=cached.usage, completion_text=cached.message.content or ""
        )
        return cached
    await route.meter.aadmit(_reservation(route, request))
    try:
        answer = await route.provider.achat(request, route.settings)
    except UpstreamError as exc:
        await route.meter.afinish(status=CallStatus.ERROR, error_code=type(exc).__name__)
        raise
    await route.meter.afinish(
        status=CallStatus.OK, usage=answer.usage, completion_text=answer.message.content or ""
    )
    if cache is not None:
        await cache.akeep(answer)
    return answer


async def achat_stream(route: Route, request: ChatRequest) -> AsyncIterator[ChatChunk]:
    """``chat_stream`` for async views: an async stream, metered, that closes the upstream
    call when it is closed."""
    request = _upstream_request(route, request)
    cache = _cache(route, request)
    if (cached := await _acached_answer(route, cache)) is not None:
        return route.meter.awatch(response_cache.areplay(cached))
    await route.meter.aadmit(_reservation(route, request))
    chunks = route.provider.achat_stream(request, route.settings)
    return route.meter.awatch(cache.akept(chunks) if cache is not None else chunks)


def _metered(route: Route, prompt_text: str, prompt_tokens: int, call: Callable[[], T]) -> T:
    """``call()`` the provider, admitted against the quotas for ``prompt_tokens`` (those of
    ``prompt_text``) and recorded with the usage the answer reports (counted locally when it
    has none)."""
    route.meter.prompt_text = prompt_text
    route.meter.admit(prompt_tokens)
    try:
        answer = call()
    except UpstreamError as exc:
        route.meter.finish(status=CallStatus.ERROR, error_code=type(exc).__name__)
        raise
    route.meter.finish(status=CallStatus.OK, usage=answer.usage)
    return answer


def _embedding_request(
    route: Route, inputs: list[str], input_type: str
) -> tuple[EmbeddingRequest, str, int]:
    """The provider's request for ``inputs``, within the input limits, with its prompt
    text and tokens."""
    model = route.endpoint.upstream_model
    check_embedding_inputs(inputs, model=model, surface=route.meter.surface)
    prompt_text = "\n".join(inputs)
    tokens = count_tokens(prompt_text, model)
    check_embedding_tokens(tokens, surface=route.meter.surface)
    return EmbeddingRequest(model=model, inputs=inputs, input_type=input_type), prompt_text, tokens


def embed(route: Route, inputs: list[str], input_type: str = "document") -> EmbeddingResponse:
    request, prompt_text, tokens = _embedding_request(route, inputs, input_type)
    return _metered(
        route, prompt_text, tokens, lambda: route.provider.embed(request, route.settings)
    )


async def aembed(
    route: Route, inputs: list[str], input_type: str = "document"
) -> EmbeddingResponse:
    """``embed`` for async views."""
    request, prompt_text, tokens = _embedding_request(route, inputs, input_type)
    route.meter.prompt_text = prompt_text
    await route.meter.aadmit(tokens)
    try:
        answer = await route.provider.aembed(request, route.settings)
    except UpstreamError as exc:
        await route.meter.afinish(status=CallStatus.ERROR, error_code=type(exc).__name__)
        raise
    await route.meter.afinish(status=CallStatus.OK, usage=answer.usage)
    return answer


def rerank(route: Route, query: str, documents: list[str]) -> RerankResponse:
    """Relevance of each document to ``query``, metered like any call."""
    model = route.endpoint.upstream_model
    request = RerankRequest(model=model, query=query, documents=documents)
    prompt_text = "\n".join([query, *documents])
    return _metered(
        route,
        prompt_text,
        count_tokens(prompt_text, model),
        lambda: route.provider.rerank(request, route.settings),
    )


#: Threads for provider calls started ahead of their answer (``start_embed``).
_ahead = ThreadPoolExecutor(max_workers=8, thread_name_prefix="model-call")


def start_embed(
    route: Route, inputs: list[str], input_type: str = "document"
) -> Callable[[], EmbeddingResponse]:
    """``embed``, with the provider's call started now on a thread of its own so that the
    caller can do other work meanwhile; the returned function waits for the answer. The
    checks and the quota admission happen here and the metering when the answer is taken,
    on the caller's thread (where its database connection is): only the provider's call
    moves."""
    request, prompt_text, tokens = _embedding_request(route, inputs, input_type)
    route.meter.prompt_text = prompt_text
    route.meter.admit(tokens)
    context = contextvars.copy_context()
    future = _ahead.submit(context.run, route.provider.embed, request, route.settings)

    def answer() -> EmbeddingResponse:
        try:
            response = future.result()
        except UpstreamError as exc:
            route.meter.finish(status=CallStatus.ERROR, error_code=type(exc).__name__)
            raise
        route.meter.finish(status=CallStatus.OK, usage=response.usage)
        return response

    return answer
