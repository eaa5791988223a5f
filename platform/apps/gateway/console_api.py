"""Console API of the gateway: the models playground, where a signed-in member chats with a
model granted to the workspace (the SDK surfaces need an API key; this takes the session)."""

from collections.abc import Iterator
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema

from apps.accounts.context import workspace_context
from apps.accounts.permissions import Permission
from apps.gateway import routing
from apps.gateway.streaming import error_event, event_stream_response, named_event, started
from apps.model_endpoints.models import EndpointCapability
from kernel.errors import ApiError
from kernel.openapi import GATEWAY_ERRORS, also_answers
from kernel.request_id import request_id_of
from plugins.base import ChatChunk, ChatMessage, ChatRequest, UpstreamError, Usage

router = Router(tags=["models"])


class ModelChatMessageIn(Schema):
    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=200_000)


class ModelChatIn(Schema):
    """A playground turn: the whole conversation so far, sent to one granted chat model."""

    model: str = Field(min_length=1, description="A chat model granted to the workspace.")
    messages: list[ModelChatMessageIn] = Field(min_length=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, gt=0)
    stream: bool = Field(
        default=True,
        description="Server-sent events `text` ({text}), then `done` ({text, finish_reason, "
        "usage}) or `error` ({code, message}); false answers the `done` object as JSON.",
    )


class ModelChatUsageOut(Schema):
    input_tokens: int
    output_tokens: int


class ModelChatOut(Schema):
    text: str
    finish_reason: str
    usage: ModelChatUsageOut | None


def _usage(usage: Usage | None) -> dict[str, int] | None:
    return usage.model_dump() if usage is not None else None


def chat_events(chunks: Iterator[ChatChunk], request_id: str) -> Iterator[str]:
    """The playground's stream, framed like an app playground's: ``text`` deltas, then one
    ``done`` (or ``error``: the status line is long gone)."""
    text: list[str] = []
    finish_reason, usage = "stop", None
    try:
        for chunk in chunks:
            if chunk.content:
                text.append(chunk.content)
                yield named_event("text", {"text": chunk.content})
            if chunk.finish_reason is not None:
                finish_reason = chunk.finish_reason
            usage = chunk.usage or usage
    except (ApiError, UpstreamError) as exc:
        yield error_event(exc, request_id)
        return
    yield named_event(
        "done", {"text": "".join(text), "finish_reason": finish_reason, "usage": _usage(usage)}
    )


@router.post(
    "/models/chat",
    response=ModelChatOut,
    openapi_extra=also_answers(*GATEWAY_ERRORS, event_stream=True),
)
def chat_with_model(request: HttpRequest, payload: ModelChatIn):
    """The model playground: one chat turn with a model granted to this workspace, metered
    and held to its quotas like a gateway call (surface ``console``). Streams server-sent
    events unless ``stream`` is false."""
    ctx = workspace_context(request)
    ctx.require(Permission.USE_MODELS)
    target = routing.route(
        ctx.workspace,
        payload.model,
        EndpointCapability.CHAT,
        surface="console",
        api_key=ctx.api_key,
    )
    chat_request = ChatRequest(
        model=payload.model,
        messages=[ChatMessage(role=m.role, content=m.content) for m in payload.messages],
        temperature=payload.temperature,
        top_p=payload.top_p,
        max_tokens=payload.max_tokens,
    )
    if not payload.stream:
        answer = routing.chat(target, chat_request)
        return {
            "text": answer.message.content or "",
            "finish_reason": answer.finish_reason,
            "usage": _usage(answer.usage),
        }
    chunks = started(routing.chat_stream(target, chat_request))
    return event_stream_response(chat_events(chunks, request_id_of(request)))
