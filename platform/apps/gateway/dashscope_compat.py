"""The DashScope-compatible model surface, for the official ``dashscope`` SDK:

- ``POST /api/v1/services/aigc/text-generation/generation`` (``dashscope.Generation.call``)
- ``POST /api/v1/services/embeddings/text-embedding/text-embedding``
  (``dashscope.TextEmbedding.call``)

Point the SDK here with ``dashscope.base_http_api_url = "http://host:8000/api/v1"`` (or
``DASHSCOPE_HTTP_BASE_URL``) and a workspace API key. Wire shapes follow DashScope
(``apps.gateway.wire.dashscope``): the ``input`` / ``parameters`` request, ``output`` /
``usage`` / ``request_id`` answers, SSE frames when ``X-DashScope-SSE: enable``, and
``{"code", "message", "request_id"}`` errors. The views parse, route, and shape the answer.
"""

from django.http import HttpRequest, HttpResponse

from apps.gateway import routing
from apps.gateway.sdk_surface import aroute_call, async_key_auth, mark_cache, sdk_api
from apps.gateway.streaming import event_stream_response
from apps.gateway.wire import dashscope as wire
from apps.model_endpoints.models import EndpointCapability
from kernel.errors import InvalidApiKey
from kernel.openapi import GATEWAY_ERRORS, also_answers
from kernel.request_id import request_id_of

dashscope_api = sdk_api(
    title="ministudio DashScope-compatible API",
    namespace="dashscope",
    not_authenticated=InvalidApiKey("No API-key provided."),
)


@dashscope_api.post(
    "/services/aigc/text-generation/generation",
    auth=async_key_auth,
    openapi_extra=also_answers(*GATEWAY_ERRORS, event_stream=True),
)
async def generation(request: HttpRequest, response: HttpResponse, payload: wire.GenerationIn):
    target = await aroute_call(request, payload.model, EndpointCapability.CHAT, surface="dashscope")
    chat_request = wire.to_chat_request(payload)
    request_id = request_id_of(request)
    if request.headers.get("X-DashScope-SSE", "").lower() == "enable":
        frames = wire.ageneration_frames(
            await routing.achat_stream(target, chat_request),
            parameters=payload.parameters,
            request_id=request_id,
        )
        streamed = event_stream_response(frames)
        mark_cache(streamed, target)
        return streamed
    answer = await routing.achat(target, chat_request)
    mark_cache(response, target)
    return wire.generation_body(payload.parameters, answer, request_id)


@dashscope_api.post(
    "/services/embeddings/text-embedding/text-embedding",
    auth=async_key_auth,
    openapi_extra=also_answers(*GATEWAY_ERRORS),
)
async def text_embedding(request: HttpRequest, payload: wire.EmbeddingIn):
    target = await aroute_call(
        request, payload.model, EndpointCapability.EMBEDDING, surface="dashscope"
    )
    texts = wire.embedding_texts(payload, target.endpoint.embedding_dimension)
    answer = await routing.aembed(target, texts, payload.parameters.text_type)
    return wire.embedding_body(answer, request_id_of(request))
