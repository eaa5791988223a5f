"""DashScope's wire format: the generation and text-embedding requests (``input`` /
``parameters``), their translation to the plugin contract, the ``output`` / ``usage`` /
``request_id`` answers, and the SSE frames (``id``, ``event``, ``:HTTP_STATUS/...``,
``data``) that generations and apps stream. Pure: the views and apps call it."""

import itertools
import json
from collections.abc import AsyncIterator, Iterator
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
from kernel.errors import ApiError, InvalidParameter, failure_of
from plugins.base import (
    ChatChunk,
    ChatMessage,
    ChatRequest,
    ChatResponse,
    EmbeddingResponse,
    ToolCall,
    UpstreamError,
    Usage,
)

# --- requests -----------------------------------------------------------------------------------


class MessageIn(ChatMessageIn):
    role: Literal["system", "user", "assistant", "tool"]
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


def _messages(given: GenerationInput) -> list[ChatMessage]:
    """``input.messages``; else the older ``history`` turns and ``prompt``."""
    if given.messages:
        return [chat_message(m) for m in given.messages]
    messages: list[ChatMessage] = []
    for turn in given.history or []:
        messages.append(ChatMessage(role="user", content=turn.get("user", "")))
        messages.append(ChatMessage(role="assistant", content=turn.get("bot", "")))
    if given.prompt:
        messages.append(ChatMessage(role="user", content=given.prompt))
    return messages


def to_chat_request(payload: GenerationIn) -> ChatRequest:
    messages = _messages(payload.input)
    if not messages:
        raise InvalidParameter("input: give input.messages or input.prompt.")
    parameters = payload.parameters
    return chat_request(
        payload.model,
        messages,
        tools=parameters.tools,
        tool_choice=parameters.tool_choice,
        stop=parameters.stop,
        temperature=parameters.temperature,
        top_p=parameters.top_p,
        max_tokens=parameters.max_tokens,
        seed=parameters.seed,
    )


def embedding_texts(payload: EmbeddingIn, dimension: int | None) -> list[str]:
    """The texts to embed, or an ``InvalidParameter``; ``dimension`` is what the routed
    model returns."""
    texts = [payload.input.texts] if isinstance(payload.input.texts, str) else payload.input.texts
    if not texts or any(not text for text in texts):
        raise InvalidParameter("input.texts: give one or more non-empty texts.")
    wanted = payload.parameters.dimension
    if wanted and wanted != dimension:
        raise InvalidParameter(
            f"parameters.dimension: this model returns {dimension}-dimensional vectors."
        )
    return texts


# --- answers ------------------------------------------------------------------------------------


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


def generation_body(
    parameters: GenerationParameters, answer: ChatResponse, request_id: str
) -> dict[str, Any]:
    """A whole generation: ``output`` in the asked ``result_format``, ``usage``, ``request_id``."""
    output = _output(
        parameters.result_format,
        answer.message.content or "",
        answer.finish_reason,
        answer.message.tool_calls,
    )
    return {"output": output, "usage": _usage(answer.usage), "request_id": request_id}


def embedding_body(answer: EmbeddingResponse, request_id: str) -> dict[str, Any]:
    """A text embedding: a vector per text, by ``text_index``."""
    return {
        "output": {
            "embeddings": [
                {"text_index": index, "embedding": vector}
                for index, vector in enumerate(answer.vectors)
            ]
        },
        "usage": {"total_tokens": (answer.usage or Usage()).input_tokens},
        "request_id": request_id,
    }


# --- stream frames ------------------------------------------------------------------------------


def sse_frame(
    number: int, data: dict[str, Any], *, event: str = "result", status: int = 200
) -> str:
    """One DashScope SSE frame: ``id``, ``event``, ``:HTTP_STATUS/<status>``, ``data``."""
    body = json.dumps(data, ensure_ascii=False)
    return f"id:{number}\nevent:{event}\n:HTTP_STATUS/{status}\ndata:{body}\n\n"


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


class GenerationFramer:
    """DashScope's SSE frames: ``id``, ``event:result``, ``:HTTP_STATUS/200``, ``data``.

    Each frame holds the new text (``incremental_output``) or all text so far;
    ``finish_reason`` reads ``"null"`` until the last frame. An upstream failure half-way
    becomes an ``event:error`` frame carrying the error shape.
    """

    def __init__(self, *, parameters: GenerationParameters, request_id: str) -> None:
        self.parameters = parameters
        self.request_id = request_id
        self.numbers = itertools.count(1)
        self.so_far = ""
        self.usage = Usage()

    def _frame(self, content: str, finish_reason: str, calls: list[ToolCall]) -> str:
        output = _output(self.parameters.result_format, content, finish_reason, calls)
        data = {"output": output, "usage": _usage(self.usage), "request_id": self.request_id}
        return sse_frame(next(self.numbers), data)

    def opening(self) -> list[str]:
        return []

    def frames(self, chunk: ChatChunk) -> list[str]:
        self.usage = chunk.usage or self.usage
        self.so_far += chunk.content
        shown = chunk.content if self.parameters.incremental_output else self.so_far
        if chunk.finish_reason is not None:
            return [self._frame(shown, chunk.finish_reason, chunk.tool_calls)]
        return [self._frame(shown, "null", [])] if chunk.content else []

    def failure(self, exc: ApiError | UpstreamError) -> str:
        failure = failure_of(exc, self.request_id)
        return error_frame(next(self.numbers), failure, self.request_id)

    def closing(self) -> list[str]:
        return []


def generation_frames(
    chunks: Iterator[ChatChunk], *, parameters: GenerationParameters, request_id: str
) -> Iterator[str]:
    """``GenerationFramer``'s frames for a blocking stream."""
    return framed(chunks, GenerationFramer(parameters=parameters, request_id=request_id))


def ageneration_frames(
    chunks: AsyncIterator[ChatChunk], *, parameters: GenerationParameters, request_id: str
) -> AsyncIterator[str]:
    """``GenerationFramer``'s frames for an async stream."""
    return aframed(chunks, GenerationFramer(parameters=parameters, request_id=request_id))
