"""The gateway's core: a workspace asks for a model by name; this finds the endpoint it
was granted (or the member of a model group that serves the call, falling back to the next
on failure), answers from the response cache when it may, calls the provider, and meters
the call. The HTTP surfaces (OpenAI-compatible, DashScope-compatible) only translate their
wire formats.

Each call function has an async twin (``aroute``, ``achat``, ``achat_stream``, ``aembed``)
for the SDK surfaces' async views; the blocking ones serve apps, batches, ingestion and the
console. Both share every decision (what a name resolves to, what to reserve, when to fall
back) and differ only in how they wait.
"""

import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings

from apps.accounts.models import ApiKey, Workspace
from apps.gateway import balancing, response_cache
from apps.gateway.input_limits import (
    check_chat_messages,
    check_embedding_inputs,
    check_embedding_tokens,
    check_prompt_tokens,
)
from apps.gateway.streaming import astarted
from apps.model_endpoints.models import EndpointCapability, ModelEndpoint
from apps.model_endpoints.selectors import endpoints_for_workspace, group_for_workspace
from apps.model_endpoints.services import provider_class, provider_settings
from apps.plugins import discovery
from apps.usage.models import CallStatus
from apps.usage.quotas import QuotaExceeded
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
T = TypeVar("T")
_END: Any = object()


class ModelNotFound(ApiError):
    status = 404
    code = "ModelNotFound"


@dataclass(frozen=True)
class Route:
    """One call's way to its upstream, and the meter that records it. A model group's
    route names the member chosen first and, in ``fallbacks``, the ones to try next."""

    endpoint: ModelEndpoint
    provider: ModelProvider
    settings: PluginSettings
    meter: Meter
    #: The model group the name named; None for an endpoint's own name.
    group: balancing.GroupPolicy | None = None
    fallbacks: tuple[balancing.Member, ...] = ()
    #: How long the workspace keeps this name's deterministic answers (0: not at all).
    cache_seconds: int = 0
    #: What the response cache keys answers by: the endpoint's id, or the group's.
    cache_scope: str = ""


@dataclass(frozen=True)
class Resolution:
    """What a model name stands for in a workspace: one member (an endpoint) or a group's
    members, and what they can all do. Cached per process (kernel.config_cache)."""

    members: tuple[balancing.Member, ...] = ()
    group: balancing.GroupPolicy | None = None
    capabilities: frozenset[str] = frozenset()
    cache_seconds: int = 0


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
    """The endpoint ``model`` names for ``workspace`` (a group's: the member that serves
    this call). Not granted, disabled or unknown are one answer, ``ModelNotFound``: a
    workspace cannot learn what others have. ``app_id`` / ``batch_id`` tag the call's usage
    with the agent app or the batch that made it; ``node_id`` the workflow node of that
    app; ``request_id`` names the call where no HTTP request does (a batch line)."""
    version = config_cache.current_version()
    resolution = config_cache.cached(
        ("route", workspace.pk, model), version, lambda: _resolve(workspace, model)
    )
    _check(resolution, model, capability)
    members = list(resolution.members)
    if resolution.group is not None:
        state = balancing.states(resolution.group, resolution.members)
        members = balancing.ordered(resolution.group, resolution.members, state)
    meter = Meter(
        members[0].endpoint,
        workspace,
        api_key,
        surface,
        capability,
        config_version=version,
        app_id=app_id,
        batch_id=batch_id,
        app_node=node_id,
        **({"request_id": request_id} if request_id else {}),
    )
    return _route_of(resolution, members, meter)


async def aroute(
    workspace: Workspace,
    model: str,
    capability: EndpointCapability,
    *,
    surface: str,
    api_key: ApiKey | None = None,
) -> Route:
    """``route`` for async views: one Redis GET on the loop when the route is cached (and
    one more for a group's members), the database (on a thread) only after a change."""
    version = await config_cache.acurrent_version()
    resolution = await config_cache.acached(
        ("route", workspace.pk, model), version, sync_to_async(_resolve), workspace, model
    )
    _check(resolution, model, capability)
    members = list(resolution.members)
    if resolution.group is not None:
        state = await balancing.astates(resolution.group, resolution.members)
        members = balancing.ordered(resolution.group, resolution.members, state)
    meter = Meter(
        members[0].endpoint, workspace, api_key, surface, capability, config_version=version
    )
    return _route_of(resolution, members, meter)


def _check(resolution: Resolution, model: str, capability: EndpointCapability) -> None:
    if not resolution.members:
        raise ModelNotFound(f"The model '{model}' does not exist or you do not have access to it.")
    if capability not in resolution.capabilities:
        raise InvalidParameter(f"model: '{model}' does not support {capability}.")


def _route_of(resolution: Resolution, members: list[balancing.Member], meter: Meter) -> Route:
    first, *rest = members
    group = resolution.group
    return Route(
        endpoint=first.endpoint,
        provider=discovery.instance_of(first.plugin_class),
        settings=first.settings,
        meter=meter,
        group=group,
        fallbacks=tuple(rest),
        cache_seconds=resolution.cache_seconds,
        cache_scope=f"group:{group.id}" if group else str(first.endpoint.pk),
    )


def _next(route: Route) -> Route:
    """The route of the group's next member, with a meter of its own."""
    member, *rest = route.fallbacks
    return replace(
        route,
        endpoint=member.endpoint,
        provider=discovery.instance_of(member.plugin_class),
        settings=member.settings,
        meter=route.meter.for_endpoint(member.endpoint),
        fallbacks=tuple(rest),
    )


def _resolve(workspace: Workspace, model: str) -> Resolution:
    """What routing reads from the database; cached per process (kernel.config_cache)."""
    endpoint = endpoints_for_workspace(workspace).filter(name=model).first()
    if endpoint is not None:
        return Resolution(
            members=(_member(endpoint),),
            capabilities=frozenset(endpoint.capabilities),
            cache_seconds=endpoint.response_cache_seconds or 0,
        )
    group = group_for_workspace(workspace, model)
    if group is None:
        return Resolution()
    members = tuple(
        _member(m.endpoint, m.weight) for m in group.members.all() if m.endpoint.enabled
    )
    shared = (
        set.intersection(*(set(m.endpoint.capabilities) for m in members)) if members else set()
    )
    policy = balancing.GroupPolicy(
        id=str(group.pk),
        name=group.name,
        balancing=group.balancing,
        cooldown_seconds=group.cooldown_seconds,
        failures_to_cool_down=group.failures_to_cool_down,
    )
    return Resolution(
        members=members,
        group=policy,
        capabilities=frozenset(shared),
        cache_seconds=group.response_cache_seconds or 0,
    )


def _member(endpoint: ModelEndpoint, weight: int = 1) -> balancing.Member:
    plugin_class = provider_class(endpoint.provider)
    return balancing.Member(
        endpoint, plugin_class, provider_settings(endpoint, plugin_class), weight
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
    cache = response_cache.cache_for(
        route.meter.workspace.pk, route.cache_scope, route.cache_seconds, request
    )
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


def _with_fallbacks(route: Route, call: Callable[[Route], T]) -> T:
    """``call(route)``; for a model group, on a 429, 5xx, timeout, unreachable server or
    the member's own quota, ``call`` again on the next member, until one answers or none
    is left (then the last failure is the caller's). Upstream failures count against the
    member's health (``balancing.failed``); a quota is the workspace's, not the member's."""
    attempt = route
    while True:
        try:
            return call(attempt)
        except balancing.FALLBACK_ERRORS as exc:
            if attempt.group is None:
                raise
            if not isinstance(exc, QuotaExceeded):
                balancing.failed(attempt.group, attempt.endpoint, exc)
            if not attempt.fallbacks:
                raise
            attempt = _next(attempt)


async def _awith_fallbacks(route: Route, call: Callable[[Route], Awaitable[T]]) -> T:
    """``_with_fallbacks``, for async code."""
    attempt = route
    while True:
        try:
            return await call(attempt)
        except balancing.FALLBACK_ERRORS as exc:
            if attempt.group is None:
                raise
            if not isinstance(exc, QuotaExceeded):
                await balancing.afailed(attempt.group, attempt.endpoint, exc)
            if not attempt.fallbacks:
                raise
            attempt = _next(attempt)


def chat(route: Route, request: ChatRequest) -> ChatResponse:
    """One chat completion (a model group's: from the first member that answers)."""
    cache = _cache(route, _upstream_request(route, request))
    if (cached := _cached_answer(route, cache)) is not None:
        route.meter.finish(
            status=CallStatus.OK, usage=cached.usage, completion_text=cached.message.content or ""
        )
        return cached
    answer = _with_fallbacks(route, lambda attempt: _chat_once(attempt, request))
    if cache is not None:
        cache.keep(answer)
    return answer


def _chat_once(route: Route, request: ChatRequest) -> ChatResponse:
    request = _upstream_request(route, request)
    _admit(route, request)
    with balancing.occupied(route.group, route.endpoint.pk):
        try:
            answer = route.provider.chat(request, route.settings)
        except UpstreamError as exc:
            route.meter.finish(status=CallStatus.ERROR, error_code=type(exc).__name__)
            raise
    route.meter.finish(
        status=CallStatus.OK, usage=answer.usage, completion_text=answer.message.content or ""
    )
    return answer


def chat_stream(route: Route, request: ChatRequest) -> Iterator[ChatChunk]:
    """The provider's stream, metered, its first chunk already read (a model group falls
    back to its next member when the upstream fails before it): closing this generator
    closes the upstream call and records the call as cancelled. A cached answer is
    replayed as a stream; a cacheable one is kept once it has streamed to its end."""
    cache = _cache(route, _upstream_request(route, request))
    if (cached := _cached_answer(route, cache)) is not None:
        return route.meter.watch(response_cache.replay(cached))
    chunks = _with_fallbacks(route, lambda attempt: _stream_once(attempt, request))
    return cache.kept(chunks) if cache is not None else chunks


def _stream_once(route: Route, request: ChatRequest) -> Iterator[ChatChunk]:
    request = _upstream_request(route, request)
    _admit(route, request)
    chunks = route.provider.chat_stream(request, route.settings)
    stream = route.meter.watch(balancing.occupying(route.group, route.endpoint.pk, chunks))
    first = next(stream, _END)  # the upstream's refusal comes here, before any byte is sent
    return _after_first(first, stream)


def _after_first(first: Any, stream: Iterator[ChatChunk]) -> Iterator[ChatChunk]:
    """``stream`` with ``first`` (already read) put back in front; closing it closes
    ``stream``."""
    try:
        if first is not _END:
            yield first
            yield from stream
    finally:
        stream.close()


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
    cache = _cache(route, _upstream_request(route, request))
    if (cached := await _acached_answer(route, cache)) is not None:
        await route.meter.afinish(
            status=CallStatus.OK, usage=cached.usage, completion_text=cached.message.content or ""
        )
        return cached
    answer = await _awith_fallbacks(route, lambda attempt: _achat_once(attempt, request))
    if cache is not None:
        await cache.akeep(answer)
    return answer


async def _achat_once(route: Route, request: ChatRequest) -> ChatResponse:
    request = _upstream_request(route, request)
    await route.meter.aadmit(_reservation(route, request))
    async with balancing.aoccupied(route.group, route.endpoint.pk):
        try:
            answer = await route.provider.achat(request, route.settings)
        except UpstreamError as exc:
            await route.meter.afinish(status=CallStatus.ERROR, error_code=type(exc).__name__)
            raise
    await route.meter.afinish(
        status=CallStatus.OK, usage=answer.usage, completion_text=answer.message.content or ""
    )
    return answer


async def achat_stream(route: Route, request: ChatRequest) -> AsyncIterator[ChatChunk]:
    """``chat_stream`` for async views: an async stream, metered, its first chunk already
    read, that closes the upstream call when it is closed."""
    cache = _cache(route, _upstream_request(route, request))
    if (cached := await _acached_answer(route, cache)) is not None:
        return route.meter.awatch(response_cache.areplay(cached))
    chunks = await _awith_fallbacks(route, lambda attempt: _astream_once(attempt, request))
    return cache.akept(chunks) if cache is not None else chunks


async def _astream_once(route: Route, request: ChatRequest) -> AsyncIterator[ChatChunk]:
    request = _upstream_request(route, request)
    await route.meter.aadmit(_reservation(route, request))
    chunks = route.provider.achat_stream(request, route.settings)
    stream = route.meter.awatch(balancing.aoccupying(route.group, route.endpoint.pk, chunks))
    return await astarted(stream)


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
    def once(attempt: Route) -> EmbeddingResponse:
        request, prompt_text, tokens = _embedding_request(attempt, inputs, input_type)
        call = lambda: attempt.provider.embed(request, attempt.settings)  # noqa: E731
        return _metered(attempt, prompt_text, tokens, call)

    return _with_fallbacks(route, once)


async def aembed(
    route: Route, inputs: list[str], input_type: str = "document"
) -> EmbeddingResponse:
    """``embed`` for async views."""

    async def once(attempt: Route) -> EmbeddingResponse:
        request, prompt_text, tokens = _embedding_request(attempt, inputs, input_type)
        attempt.meter.prompt_text = prompt_text
        await attempt.meter.aadmit(tokens)
        try:
            answer = await attempt.provider.aembed(request, attempt.settings)
        except UpstreamError as exc:
            await attempt.meter.afinish(status=CallStatus.ERROR, error_code=type(exc).__name__)
            raise
        await attempt.meter.afinish(status=CallStatus.OK, usage=answer.usage)
        return answer

    return await _awith_fallbacks(route, once)


def rerank(route: Route, query: str, documents: list[str]) -> RerankResponse:
    """Relevance of each document to ``query``, metered like any call."""

    def once(attempt: Route) -> RerankResponse:
        model = attempt.endpoint.upstream_model
        request = RerankRequest(model=model, query=query, documents=documents)
        prompt_text = "\n".join([query, *documents])
        call = lambda: attempt.provider.rerank(request, attempt.settings)  # noqa: E731
        return _metered(attempt, prompt_text, count_tokens(prompt_text, model), call)

    return _with_fallbacks(route, once)


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
