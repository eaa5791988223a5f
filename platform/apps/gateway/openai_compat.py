"""The OpenAI-compatible surface: ``/compatible-mode/v1/{models,chat/completions,embeddings}``.

The official ``openai`` SDK works against it unmodified (``base_url=".../compatible-mode/v1"``,
``api_key="sk-..."``): requests, responses, SSE streams and errors use OpenAI's shapes.
Callers authenticate with a workspace API key and see only the models granted to it.
"""

import base64
import json
import logging
import struct
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Field, NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

from apps.accounts.auth import ApiKeyBearer
from apps.accounts.models import ApiKey
from apps.endpoints.models import EndpointCapability
from apps.endpoints.selectors import endpoints_for_workspace
from apps.gateway import routing
from apps.gateway.function_calling import (
    ToolCallIn,
    ToolIn,
    text_of,
    tool_calls_in,
    tool_calls_out,
    tool_specs,
)
from apps.gateway.streaming import event_stream_response
from plugins.base import (
    ChatChunk,
    ChatMessage,
    ChatRequest,
    UpstreamAuthenticationError,
    UpstreamBadRequestError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
)
from studio.errors import OPENAI_CODES, ApiError, InvalidParameter, openai_error_response

logger = logging.getLogger(__name__)


# --- errors in OpenAI's shape ---------------------------------------------------------------------


def openai_error(
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    error_type: str | None = None,
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    response = openai_error_response(status, message, code=code, param=param, error_type=error_type)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def upstream_error_response(exc: UpstreamError) -> JsonResponse:
    """An upstream failure, said in OpenAI's terms; the upstream's own message is kept
    (providers never put credentials in it)."""
    if isinstance(exc, UpstreamRateLimitError):
        headers = {"Retry-After": str(max(1, round(exc.retry_after)))} if exc.retry_after else {}
        return openai_error(429, exc.message, code="rate_limit_exceeded", headers=headers)
    if isinstance(exc, UpstreamBadRequestError):
        return openai_error(400, exc.message, code=exc.code or "upstream_bad_request")
    if isinstance(exc, UpstreamTimeoutError):
        return openai_error(504, exc.message, code="upstream_timeout", error_type="api_error")
    if isinstance(exc, UpstreamAuthenticationError):
        # Our credential for the upstream is wrong: the platform's fault, not the caller's.
        return openai_error(
            502, exc.message, code="upstream_authentication_failed", error_type="api_error"
        )
    if isinstance(exc, UpstreamConnectionError):
        return openai_error(502, exc.message, code="upstream_unreachable", error_type="api_error")
    return openai_error(502, exc.message, code="upstream_error", error_type="api_error")


_SOURCES = frozenset({"body", "query", "path", "form", "file", "header", "cookie"})


def _param_of(errors: list[dict]) -> str | None:
    for error in errors:
        loc = [str(p) for p in error.get("loc", [])]
        # ninja's locations start with where the value came from, then (for a schema) the
        # handler's name for it; the caller knows the field by its own name only.
        if loc and loc[0] in _SOURCES:
            loc = loc[1:]
        if len(loc) > 1 and loc[0] in ("payload", "query"):
            loc = loc[1:]
        if loc:
            return ".".join(loc)
    return None


openai_api = NinjaAPI(
    title="ministudio OpenAI-compatible API",
    version="1",
    urls_namespace="openai",
    auth=[ApiKeyBearer()],
    docs_url=None,
)


@openai_api.exception_handler(ApiError)
def _on_api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return openai_error(
        exc.status,
        exc.message,
        code=OPENAI_CODES.get(exc.code, exc.code),
        param=exc.param,
        headers=exc.headers,
    )


@openai_api.exception_handler(UpstreamError)
def _on_upstream_error(request: HttpRequest, exc: UpstreamError) -> HttpResponse:
    return upstream_error_response(exc)


@openai_api.exception_handler(ValidationError)
def _on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    param = _param_of(exc.errors)
    first = exc.errors[0] if exc.errors else {}
    message = f"{param or 'body'}: {first.get('msg', 'invalid value')}"
    return openai_error(400, message, param=param, code="invalid_value")


@openai_api.exception_handler(AuthenticationError)
def _on_missing_key(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return openai_error(
        401,
        "You didn't provide an API key: send 'Authorization: Bearer sk-...'.",
        code="invalid_api_key",
    )


@openai_api.exception_handler(HttpError)
def _on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    message = str(exc)
    if exc.status_code == 400 and message.startswith("Cannot parse request body"):
        message = "We could not parse the JSON body of your request."
    return openai_error(exc.status_code, message)


@openai_api.exception_handler(Exception)
def _on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("Unhandled error in %s %s", request.method, request.path)
    return openai_error(
        500, "The server had an error processing your request.", error_type="server_error"
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
    chunks: Iterator[ChatChunk], *, model: str, include_usage: bool
) -> Iterator[str]:
    """OpenAI's ``chat.completion.chunk`` frames for a provider stream, then ``[DONE]``.

    An upstream failure half-way is reported as a final ``error`` frame (the status line
    is long gone), which the SDK raises as an ``APIError``.
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
        failure = (
            upstream_error_response(exc)
            if isinstance(exc, UpstreamError)
            else openai_error(exc.status, exc.message, code=OPENAI_CODES.get(exc.code, exc.code))
        )
        yield _sse(json.loads(failure.content))
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


@openai_api.post("/chat/completions")
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
            routing.chat_stream(target, chat_request),
            model=payload.model,
            include_usage=include_usage,
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


@openai_api.post("/embeddings")
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
