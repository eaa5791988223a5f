"""The DashScope-compatible model surface, for the official ``dashscope`` SDK:

- ``POST /api/v1/services/aigc/text-generation/generation`` (``dashscope.Generation.call``)
- ``POST /api/v1/services/embeddings/text-embedding/text-embedding``
  (``dashscope.TextEmbedding.call``)

Point the SDK here with ``dashscope.base_http_api_url = "http://host:8000/api/v1"`` (or
``DASHSCOPE_HTTP_BASE_URL``) and a workspace API key. Wire shapes follow DashScope: the
``input`` / ``parameters`` request, ``output`` / ``usage`` / ``request_id`` answers, SSE
frames when ``X-DashScope-SSE: enable``, and ``{"code", "message", "request_id"}`` errors.
"""

import itertools
import json
from collections.abc import Iterator
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, NinjaAPI, Schema

from apps.accounts.auth import ApiKeyBearer
from apps.accounts.models import ApiKey
from apps.gateway import routing
from apps.gateway.function_calling import (
    ToolCallIn,
    ToolIn,
    text_of,
    tool_calls_in,
    tool_calls_out,
    tool_specs,
)
from apps.gateway.streaming import event_stream_response, started
from apps.model_endpoints.models import EndpointCapability
from kernel.edge import EdgeParser
from kernel.errors import (
    ApiError,
    InvalidApiKey,
    InvalidParameter,
    failure_of,
    install_error_handlers,
)
from kernel.openapi import GATEWAY_ERRORS, also_answers
from kernel.request_id import request_id_of
from plugins.base import (
    ChatChunk,
    ChatMessage,
    ChatRequest,
    ChatResponse,
    ToolCall,
    UpstreamError,
    Usage,
)

dashscope_api = NinjaAPI(
    parser=EdgeParser(),
    title="ministudio DashScope-compatible API",
    version="1",
    urls_namespace="dashscope",
    auth=[ApiKeyBearer()],
    docs_url=None,
)
install_error_handlers(dashscope_api, not_authenticated=InvalidApiKey("No API-key provided."))


# --- schemas --------------------------------------------------------------------------------------


class MessageIn(Schema):
    role: Literal["system", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = None
    name: str | None = None


class GenerationInput(Schema):
    prompt: str | None = None
    messages: list[MessageIn] | None = None
    history: list[dict[str, str]] | None = None


class GenerationParameters(Schema):
    result_format: Literal["text", "message"] = "text"
    incremental_output: bool = False
    temperature: float | None = Field(default=None, ge=0, lt=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, gt=0)
    stop: str | list[str] | None = None
    tools: list[ToolIn] | None = None
    tool_choice: str | dict[str, Any] | None = None
    seed: int | None = None


class GenerationIn(Schema):
    model: str = Field(min_length=1)
    input: GenerationInput
    parameters: GenerationParameters = Field(default_factory=GenerationParameters)


class EmbeddingInput(Schema):
    texts: list[str] | str = Field(description="One text or a list of texts.")


class EmbeddingParameters(Schema):
    text_type: Literal["query", "document"] = "document"
    dimension: int | None = Field(default=None, gt=0)


class EmbeddingIn(Schema):
    model: str = Field(min_length=1)
    input: EmbeddingInput
    parameters: EmbeddingParameters = Field(default_factory=EmbeddingParameters)


# --- translation ---------------------------------------------------------------------------------


def to_chat_request(payload: GenerationIn) -> ChatRequest:
    given = payload.input
    messages: list[ChatMessage] = []
    if given.messages:
        messages = [
            ChatMessage(
                role=m.role,
                content=text_of(m.content),
                tool_calls=tool_calls_in(m.tool_calls),
                tool_call_id=m.tool_call_id,
            )
            for m in given.messages
        ]
    else:
        for turn in given.history or []:
            messages.append(ChatMessage(role="user", content=turn.get("user", "")))
            messages.append(ChatMessage(role="assistant", content=turn.get("bot", "")))
        if given.prompt:
            messages.append(ChatMessage(role="user", content=given.prompt))
    if not messages:
        raise InvalidParameter("input: give input.messages or input.prompt.")
    parameters = payload.parameters
    extra: dict[str, Any] = {}
    if parameters.tool_choice is not None:
        extra["tool_choice"] = parameters.tool_choice
    if parameters.seed is not None:
        extra["seed"] = parameters.seed
    stop = [parameters.stop] if isinstance(parameters.stop, str) else (parameters.stop or [])
    return ChatRequest(
        model=payload.model,
        messages=messages,
        tools=tool_specs(parameters.tools),
        temperature=parameters.temperature,
        top_p=parameters.top_p,
        max_tokens=parameters.max_tokens,
        stop=stop,
        extra=extra,
    )


def _usage(usage: Usage | None) -> dict[str, int]:
    usage = usage or Usage()
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }


def _output(
    result_format: str, content: str, finish_reason: str, calls: list[ToolCall]
) -> dict[str, Any]:
    if result_format == "message" or calls:
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if calls:
            message["tool_calls"] = tool_calls_out(calls, with_index=True)
        return {"choices": [{"finish_reason": finish_reason, "message": message}]}
    return {"text": content, "finish_reason": finish_reason}


def sse_frame(
    number: int, data: dict[str, Any], *, event: str = "result", status: int = 200
) -> str:
    """One DashScope SSE frame: ``id``, ``event``, ``:HTTP_STATUS/<status>``, ``data``."""
    body = json.dumps(data, ensure_ascii=False)
    return f"id:{number}\nevent:{event}\n:HTTP_STATUS/{status}\ndata:{body}\n\n"


def generation_frames(
    chunks: Iterator[ChatChunk], *, parameters: GenerationParameters, request_id: str
) -> Iterator[str]:
    """DashScope's SSE frames: ``id``, ``event:result``, ``:HTTP_STATUS/200``, ``data``.

    Each frame holds the new text (``incremental_output``) or all text so far;
    ``finish_reason`` reads ``"null"`` until the last frame. An upstream failure half-way
    becomes an ``event:error`` frame carrying the error shape.
    """
    numbers = itertools.count(1)
    rid = request_id
    so_far = ""
    usage = Usage()

    def frame(data: dict[str, Any], event: str = "result", status: int = 200) -> str:
        return sse_frame(next(numbers), data, event=event, status=status)

    try:
        for chunk in chunks:
            usage = chunk.usage or usage
            so_far += chunk.content
            if chunk.finish_reason is None:
                if chunk.content:
                    shown = chunk.content if parameters.incremental_output else so_far
                    output = _output(parameters.result_format, shown, "null", [])
                    yield frame(
                        {"output": output, "usage": _usage(usage), "request_id": request_id}
                    )
                continue
            last = chunk.content if parameters.incremental_output else so_far
            output = _output(parameters.result_format, last, chunk.finish_reason, chunk.tool_calls)
            yield frame({"output": output, "usage": _usage(usage), "request_id": rid})
    except (ApiError, UpstreamError) as exc:
        yield error_frame(next(numbers), failure_of(exc, request_id), request_id)


def error_frame(number: int, failure: ApiError, request_id: str) -> str:
    """A failure half-way, as DashScope's ``event:error`` frame with the status it would have
    had (``:HTTP_STATUS/429``...), the error shape and its retry hint."""
    data: dict[str, Any] = {
        "code": failure.code,
        "message": failure.message,
        "request_id": request_id,
    }
    if failure.retry_after:
        data["retry_after"] = failure.retry_after
    return sse_frame(number, data, event="error", status=failure.status)


# --- endpoints ----------------------------------------------------------------------------------


def _workspace(request: HttpRequest):
    api_key: ApiKey = request.auth
    return api_key.workspace


@dashscope_api.post(
    "/services/aigc/text-generation/generation",
    openapi_extra=also_answers(*GATEWAY_ERRORS, event_stream=True),
)
def generation(request: HttpRequest, payload: GenerationIn):
    target = routing.route(
        request.auth.workspace,
        payload.model,
        EndpointCapability.CHAT,
        surface="dashscope",
        api_key=request.auth,
    )
    chat_request = to_chat_request(payload)
    request_id = request_id_of(request)
    streaming = request.headers.get("X-DashScope-SSE", "").lower() == "enable"
    if streaming:
        frames = generation_frames(
            started(routing.chat_stream(target, chat_request)),
            parameters=payload.parameters,
            request_id=request_id,
        )
        return event_stream_response(frames)
    answer: ChatResponse = routing.chat(target, chat_request)
    output = _output(
        payload.parameters.result_format,
        answer.message.content or "",
        answer.finish_reason,
        answer.message.tool_calls,
    )
    return {"output": output, "usage": _usage(answer.usage), "request_id": request_id}


@dashscope_api.post(
    "/services/embeddings/text-embedding/text-embedding",
    openapi_extra=also_answers(*GATEWAY_ERRORS),
)
def text_embedding(request: HttpRequest, payload: EmbeddingIn):
    target = routing.route(
        request.auth.workspace,
        payload.model,
        EndpointCapability.EMBEDDING,
        surface="dashscope",
        api_key=request.auth,
    )
    texts = [payload.input.texts] if isinstance(payload.input.texts, str) else payload.input.texts
    if not texts or any(not text for text in texts):
        raise InvalidParameter("input.texts: give one or more non-empty texts.")
    dimension = payload.parameters.dimension
    if dimension and dimension != target.endpoint.embedding_dimension:
        raise InvalidParameter(
            f"parameters.dimension: this model returns "
            f"{target.endpoint.embedding_dimension}-dimensional vectors."
        )
    answer = routing.embed(target, texts, payload.parameters.text_type)
    return {
        "output": {
            "embeddings": [
                {"text_index": index, "embedding": vector}
                for index, vector in enumerate(answer.vectors)
            ]
        },
        "usage": {"total_tokens": (answer.usage or Usage()).input_tokens},
        "request_id": request_id_of(request),
    }
