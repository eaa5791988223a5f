"""The OpenAI-compatible surface: ``/compatible-mode/v1/{models,chat/completions,embeddings}``.

Chat completions and embeddings are async views: the key, the route and the quotas come
from per-process caches and Redis on the event loop, the upstream call from a pooled async
client, and a stream is an async iterator end to end, so a call holds no thread. The
official ``openai`` SDK works against it unmodified (``base_url=".../compatible-mode/v1"``,
``api_key="sk-..."``): requests, responses, SSE streams and errors use OpenAI's shapes
(``apps.gateway.wire.openai``). Callers authenticate with a workspace API key and see only the
models granted to it. The views parse, route, and shape the answer.
"""

from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse

from apps.gateway import routing
from apps.gateway.sdk_surface import aroute_call, async_key_auth, mark_cache, sdk_api
from apps.gateway.streaming import event_stream_response
from apps.gateway.wire import openai as wire
from apps.model_endpoints.models import EndpointCapability
from apps.model_endpoints.selectors import models_for_workspace
from kernel.errors import InvalidApiKey
from kernel.openapi import GATEWAY_ERRORS, also_answers
from kernel.request_id import request_id_of

openai_api = sdk_api(
    title="ministudio OpenAI-compatible API",
    namespace="openai",
    not_authenticated=InvalidApiKey(
        "You didn't provide an API key: send 'Authorization: Bearer sk-...'."
    ),
)

#: Answers chat completions for a ``model`` that is no endpoint: a name prefix and its view.
ModelPrefixView = Callable[[HttpRequest, wire.ChatCompletionIn], Any]
_model_prefixes: dict[str, ModelPrefixView] = {}


def answer_model_prefix(prefix: str, view: ModelPrefixView) -> None:
    """Let ``view`` answer chat completions whose ``model`` starts with ``prefix``.

    The seam through which what sits above the gateway joins this surface without the
    gateway importing it: the assembly (``studio.urls``) gives ``app:`` to published apps.
    """
    _model_prefixes[prefix] = view


@openai_api.get("/models")
def list_models(request: HttpRequest):
    """The models granted to the key's workspace, as OpenAI lists models."""
    return wire.models_body(models_for_workspace(request.auth.workspace))


@openai_api.post(
    "/chat/completions",
    auth=async_key_auth,
    openapi_extra=also_answers(*GATEWAY_ERRORS, event_stream=True),
)
async def chat_completions(
    request: HttpRequest, response: HttpResponse, payload: wire.ChatCompletionIn
):
    for prefix, view in _model_prefixes.items():
        if payload.model.startswith(prefix):
            return await sync_to_async(view)(request, payload)
    target = await aroute_call(request, payload.model, EndpointCapability.CHAT, surface="openai")
    chat_request = wire.to_chat_request(payload)
    if payload.stream:
        frames = wire.acompletion_frames(
            await routing.achat_stream(target, chat_request),
            model=payload.model,
            include_usage=wire.include_usage(payload),
            request_id=request_id_of(request),
        )
        streamed = event_stream_response(frames)
        mark_cache(streamed, target)
        return streamed
    answer = await routing.achat(target, chat_request)
    mark_cache(response, target)
    return wire.answer_body(payload.model, answer)


@openai_api.post("/embeddings", auth=async_key_auth, openapi_extra=also_answers(*GATEWAY_ERRORS))
async def embeddings(request: HttpRequest, payload: wire.EmbeddingsIn):
    target = await aroute_call(
        request, payload.model, EndpointCapability.EMBEDDING, surface="openai"
    )
    inputs = wire.embedding_inputs(payload, target.endpoint.embedding_dimension)
    return wire.embeddings_body(payload, await routing.aembed(target, inputs))
