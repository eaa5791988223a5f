"""OpenAI's wire format: the chat completions and embeddings requests, their translation to
the plugin contract, the ``chat.completion`` / ``list`` bodies and the
``chat.completion.chunk`` SSE frames. Pure: the views and batch lines call it."""

import base64
import json
import struct
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any, Literal

from ninja import Field, Schema

from apps.gateway.wire.chat import (
    ChatMessageIn,
    ToolIn,
    chat_message,
    chat_request,
    tool_calls_out,
)
from apps.gateway.wire.frames import aframed, framed
from kernel.errors import ApiError, InvalidParameter, failure_of, openai_error_of
from plugins.base import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    EmbeddingResponse,
    ToolCall,
    UpstreamError,
    Usage,
)

# --- requests -----------------------------------------------------------------------------------


class MessageIn(ChatMessageIn):
    role: Literal["system", "developer", "user", "assistant", "tool"]


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
    seed: int | None = Field(
        default=None, description="Sampling seed; a seeded request may be answered from the cache."
    )
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


def role_of(message: MessageIn) -> str:
    """The contract's role: OpenAI's ``developer`` is a system message to every model."""
    return "system" if message.role == "developer" else message.role


def max_tokens_of(payload: ChatCompletionIn) -> int | None:
    """The output cap, by its current name or the one it replaced."""
    return payload.max_completion_tokens or payload.max_tokens


def include_usage(payload: ChatCompletionIn) -> bool:
    """Whether a stream ends with a usage frame (``stream_options.include_usage``)."""
    return bool(payload.stream_options and payload.stream_options.include_usage)


def to_chat_request(payload: ChatCompletionIn) -> ChatRequest:
    return chat_request(
        payload.model,
        [chat_message(m, role_of(m)) for m in payload.messages],
        tools=payload.tools,
        tool_choice=payload.tool_choice,
        stop=payload.stop,
        temperature=payload.temperature,
        top_p=payload.top_p,
        max_tokens=max_tokens_of(payload),
        seed=payload.seed,
    )


def embedding_inputs(payload: EmbeddingsIn, dimension: int | None) -> list[str]:
    """The texts to embed, or an ``InvalidParameter`` naming the field at fault; ``dimension``
    is what the routed model returns."""
    inputs = [payload.input] if isinstance(payload.input, str) else payload.input
    if not inputs or any(not text for text in inputs):
        raise InvalidParameter("input: give one or more non-empty texts.", param="input")
    if payload.dimensions and payload.dimensions != dimension:
        raise InvalidParameter(
            f"dimensions: this model returns {dimension}-d vectors.", param="dimensions"
        )
    return inputs


# --- answers ------------------------------------------------------------------------------------


def _usage_out(usage: Usage | None) -> dict[str, int] | None:
    if usage is None:
        return None
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }


def models_body(endpoints: Iterable[Any]) -> dict[str, Any]:
    """OpenAI's model ``list`` of ``endpoints`` (anything with a name and a creation time)."""
    return {
        "object": "list",
        "data": [
            {
                "id": e.name,
                "object": "model",
                "created": int(e.created_at.timestamp()),
                "owned_by": "ministudio",
            }
            for e in endpoints
        ],
    }


def completion_body(
    model: str,
    content: str | None,
    finish_reason: str,
    usage: Usage | None,
    tool_calls: Iterable[ToolCall] = (),
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


def answer_body(model: str, answer: ChatResponse) -> dict[str, Any]:
    """A provider's answer as a ``chat.completion`` for ``model`` (the name the caller used)."""
    return completion_body(
        model,
        answer.message.content,
        answer.finish_reason,
        answer.usage,
        answer.message.tool_calls,
    )


def _base64_floats(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def embeddings_body(payload: EmbeddingsIn, answer: EmbeddingResponse) -> dict[str, Any]:
    """OpenAI's embeddings ``list``, each vector as ``payload.encoding_format`` asks."""
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


# --- stream frames ------------------------------------------------------------------------------


def _sse(data: dict[str, Any] | str) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"


class CompletionFramer:
    """OpenAI's ``chat.completion.chunk`` frames for a provider stream, then ``[DONE]``.

    An upstream failure half-way is reported as a final ``error`` frame (the status line
    is long gone) with the code and retry hint it would have had as a status, which the
    SDK raises as an ``APIError``.
    """

    def __init__(self, *, model: str, include_usage: bool, request_id: str) -> None:
        self.model = model
        self.include_usage = include_usage
        self.request_id = request_id
        self.completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())

    def _frame(self, choices: list[dict[str, Any]], **extra: Any) -> str:
        return _sse(
            {
                "id": self.completion_id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": choices,
                **extra,
            }
        )

    def _delta(self, content: dict[str, Any], finish_reason: str | None = None) -> str:
        return self._frame([{"index": 0, "delta": content, "finish_reason": finish_reason}])

    def opening(self) -> list[str]:
        return [self._delta({"role": "assistant", "content": ""})]

    def frames(self, chunk: ChatChunk) -> list[str]:
        frames = [self._delta({"content": chunk.content})] if chunk.content else []
        if chunk.finish_reason is not None:
            calls = tool_calls_out(chunk.tool_calls, with_index=True)
            frames.append(self._delta({"tool_calls": calls} if calls else {}, chunk.finish_reason))
            if self.include_usage:
                frames.append(self._frame([], usage=_usage_out(chunk.usage)))
        return frames

    def failure(self, exc: ApiError | UpstreamError) -> str:
        return _sse(openai_error_of(failure_of(exc, self.request_id)))

    def closing(self) -> list[str]:
        return [_sse("[DONE]")]


def completion_frames(
    chunks: Iterator[ChatChunk], *, model: str, include_usage: bool, request_id: str
) -> Iterator[str]:
    """``CompletionFramer``'s frames for a blocking stream."""
    framer = CompletionFramer(model=model, include_usage=include_usage, request_id=request_id)
    return framed(chunks, framer)


def acompletion_frames(
    chunks: AsyncIterator[ChatChunk], *, model: str, include_usage: bool, request_id: str
) -> AsyncIterator[str]:
    """``CompletionFramer``'s frames for an async stream."""
    framer = CompletionFramer(model=model, include_usage=include_usage, request_id=request_id)
    return aframed(chunks, framer)
