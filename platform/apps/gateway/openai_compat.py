"""The OpenAI-compatible surface: ``/compatible-mode/v1/{models,chat/completions,embeddings}``.

The official ``openai`` SDK works against it unmodified (``base_url=".../compatible-mode/v1"``,
``api_key="sk-..."``): requests, responses, SSE streams and errors use OpenAI's shapes.
Callers authenticate with a workspace API key and see only the models granted to it.
"""

import base64
import json
import struct
import time
import uuid
from collections.abc import Callable, Iterator
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
from apps.model_endpoints.selectors import endpoints_for_workspace
from kernel.edge import EdgeParser
from kernel.errors import (
    ApiError,
    InvalidApiKey,
    InvalidParameter,
    failure_of,
    install_error_handlers,
    openai_error_of,
)
from kernel.openapi import GATEWAY_ERRORS, also_answers
from kernel.request_id import request_id_of
from plugins.base import ChatChunk, ChatMessage, ChatRequest, UpstreamError

# --- errors in OpenAI's shape ---------------------------------------------------------------------


openai_api = NinjaAPI(
    parser=EdgeParser(),
    title="ministudio OpenAI-compatible API",
    version="1",
    urls_namespace="openai",
    auth=[ApiKeyBearer()],
    docs_url=None,
)
# Errors render in OpenAI's shape on this surface (kernel.errors.error_response).
install_error_handlers(
    openai_api,
    not_authenticated=InvalidApiKey(
        "You didn't provide an API key: send 'Authorization: Bearer sk-...'."
    ),
)


# --- schemas ------------------------------------------------------------------------------------


class MessageIn(Schema):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = None


class StreamOptionsIn(Schema):
    include_usage: bool = False


class ChatCompletionIn(Schema):
    model: str = Field(min_length=1)
    messages: list[MessageIn] = Field(min_length=1)
    tools: list[ToolIn] | None = None
    tool_choice: str | dict[str, Any] | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, gt=0)
    max_completion_tokens: int | None = Field(default=None, gt=0)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptionsIn | None = None
    n: int = Field(default=1, ge=1, le=1, description="Only one choice is supported.")
    user: str | None = None


class EmbeddingsIn(Schema):
    model: str = Field(min_length=1)
    input: str | list[str] = Field(
        description="A text or a list of texts (token arrays are not supported)."
    )
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, gt=0)
    user: str | None = None


# --- translation --------------------------------------------------------------------------------


def to_chat_request(payload: ChatCompletionIn) -> ChatRequest:
    messages = [
        ChatMessage(
            role="system" if m.role == "developer" else m.role,
            content=text_of(m.content),
            tool_calls=tool_calls_in(m.tool_calls),
            tool_call_id=m.tool_call_id,
        )
        for m in payload.messages
    ]
    extra: dict[str, Any] = {}
    if payload.tool_choice is not None:
        extra["tool_choice"] = payload.tool_choice
    stop = [payload.stop] if isinstance(payload.stop, str) else (payload.stop or [])
    return ChatRequest(
        model=payload.model,
        messages=messages,
        tools=tool_specs(payload.tools),
        temperature=payload.temperature,
        top_p=payload.top_p,
        max_tokens=payload.max_completion_tokens or payload.max_tokens,
        stop=stop,
        extra=extra,
    )


def _usage_out(usage) -> dict[str, int] | None:
    if usage is None:
        return None
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }


def _sse(data: dict[str, Any] | str) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"


def completion_frames(
    chunks: Iterator[ChatChunk], *, model: str, include_usage: bool, request_id: str
) -> Iterator[str]:
    """OpenAI's ``chat.completion.chunk`` frames for a provider stream, then ``[DONE]``.

    An upstream failure half-way is reported as a final ``error`` frame (the status line
    is long gone) with the code and retry hint it would have had as a status, which the
    SDK raises as an ``APIError``.
    """
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())

    def frame(delta: dict[str, Any], finish_reason: str | None = None, **extra) -> str:
        return _sse(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
                **extra,
            }
        )

    yield frame({"role": "assistant", "content": ""})
    try:
        for chunk in chunks:
            if chunk.content:
                yield frame({"content": chunk.content})
            if chunk.finish_reason is None:
                continue
            delta = (
                {"tool_calls": tool_calls_out(chunk.tool_calls, with_index=True)}
                if chunk.tool_calls
                else {}
            )
            yield frame(delta, chunk.finish_reason)
            if include_usage:
                yield _sse(
                    {
                        "id": completion_id,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "choices": [],
                        "usage": _usage_out(chunk.usage),
                    }
                )
    except (UpstreamError, ApiError) as exc:
        yield _sse(openai_error_of(failure_of(exc, request_id)))
    yield _sse("[DONE]")


# --- endpoints ----------------------------------------------------------------------------------


def _workspace(request: HttpRequest):
    api_key: ApiKey = request.auth
    return api_key.workspace


@openai_api.get("/models")
def list_models(request: HttpRequest):
    """The models granted to the key's workspace, as OpenAI lists models."""
    return {
        "object": "list",
        "data": [
            {
                "id": e.name,
                "object": "model",
                "created": int(e.created_at.timestamp()),
                "owned_by": "ministudio",
            }
            for e in endpoints_for_workspace(_workspace(request))
        ],
    }


#: Model names that are not endpoints: a prefix (``app:``) and who answers for it.
_MODEL_PREFIXES: dict[str, Callable[[HttpRequest, ChatCompletionIn], Any]] = {}


def answer_model_prefix(
    prefix: str, handler: Callable[[HttpRequest, ChatCompletionIn], Any]
) -> None:
    """Let ``handler`` answer chat completions whose ``model`` starts with ``prefix``
    (agent apps register ``app:``, so OpenAI clients can call a published app)."""
    _MODEL_PREFIXES[prefix] = handler


def completion_body(
    model: str, content: str | None, finish_reason: str, usage, tool_calls=()
) -> dict[str, Any]:
    """A whole ``chat.completion`` object."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls_out(list(tool_calls))
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}
        ],
        "usage": _usage_out(usage),
    }


@openai_api.post(
    "/chat/completions", openapi_extra=also_answers(*GATEWAY_ERRORS, event_stream=True)
)
def chat_completions(request: HttpRequest, payload: ChatCompletionIn):
    for prefix, handler in _MODEL_PREFIXES.items():
        if payload.model.startswith(prefix):
            return handler(request, payload)
    target = routing.route(
        request.auth.workspace,
        payload.model,
        EndpointCapability.CHAT,
        surface="openai",
        api_key=request.auth,
    )
    chat_request = to_chat_request(payload)
    if payload.stream:
        include_usage = bool(payload.stream_options and payload.stream_options.include_usage)
        frames = completion_frames(
            started(routing.chat_stream(target, chat_request)),
            model=payload.model,
            include_usage=include_usage,
            request_id=request_id_of(request),
        )
        return event_stream_response(frames)
    answer = routing.chat(target, chat_request)
    return completion_body(
        payload.model,
        answer.message.content,
        answer.finish_reason,
        answer.usage,
        answer.message.tool_calls,
    )


def _base64_floats(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


@openai_api.post("/embeddings", openapi_extra=also_answers(*GATEWAY_ERRORS))
def embeddings(request: HttpRequest, payload: EmbeddingsIn):
    target = routing.route(
        request.auth.workspace,
        payload.model,
        EndpointCapability.EMBEDDING,
        surface="openai",
        api_key=request.auth,
    )
    return embeddings_body(target, payload)


def embeddings_body(target: routing.Route, payload: EmbeddingsIn) -> dict[str, Any]:
    """Embed ``payload``'s texts on ``target``: OpenAI's embeddings ``list``, or an
    ``InvalidParameter`` naming the field at fault."""
    inputs = [payload.input] if isinstance(payload.input, str) else payload.input
    if not inputs or any(not text for text in inputs):
        raise InvalidParameter("input: give one or more non-empty texts.", param="input")
    if payload.dimensions and payload.dimensions != target.endpoint.embedding_dimension:
        raise InvalidParameter(
            f"dimensions: this model returns {target.endpoint.embedding_dimension}-d vectors.",
            param="dimensions",
        )
    answer = routing.embed(target, inputs)
    encode = _base64_floats if payload.encoding_format == "base64" else list
    usage = _usage_out(answer.usage) or {"prompt_tokens": 0, "total_tokens": 0}
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": index, "embedding": encode(vector)}
            for index, vector in enumerate(answer.vectors)
        ],
        "model": payload.model,
        "usage": {"prompt_tokens": usage["prompt_tokens"], "total_tokens": usage["total_tokens"]},
    }
