"""One model call of a run, through the gateway: the reply streamed as it comes (one chunk
for providers that cannot stream), gathered, and its usage (counted locally when the
upstream reports none). Used by the agent loop and by workflow nodes alike."""

import contextlib
from collections.abc import Iterator
from dataclasses import replace

from apps.applications.workflow.shared_connection import waiting
from apps.gateway import routing
from kernel.tokens import estimated_usage, messages_text
from plugins.base import Capability, ChatChunk, ChatRequest, ToolCall, Usage


def again(found: routing.Route) -> routing.Route:
    """``found`` for one more call: the endpoint, provider and settings it resolved, with
    no second lookup, and a meter of its own (a meter records one call). A run resolves
    its model once and calls it on ``again(route)`` each time (an agent's turns, a
    workflow node in a loop): within one request, the configuration read first holds."""
    return replace(found, meter=found.meter.for_endpoint(found.endpoint))


def model_stream(route: routing.Route, request: ChatRequest) -> Iterator[ChatChunk]:
    """The model's answer as a stream (one chunk for providers that cannot stream). While
    it waits on the model, the run's other threads may use the database."""
    with waiting():
        if Capability.CHAT_STREAM not in type(route.provider).capabilities:
            answer = routing.chat(route, request)
            yield ChatChunk(
                content=answer.message.content or "",
                tool_calls=answer.message.tool_calls,
                finish_reason=answer.finish_reason,
                usage=answer.usage,
            )
            return
        with contextlib.closing(routing.chat_stream(route, request)) as chunks:
            yield from chunks


class ReplyParts:
    """A streamed reply, gathered chunk by chunk."""

    def __init__(self) -> None:
        self.content: list[str] = []
        self.calls: list[ToolCall] = []
        self.usage: Usage | None = None
        self.finish_reason = "stop"

    def add(self, chunk: ChatChunk) -> None:
        self.content.append(chunk.content)
        self.calls.extend(chunk.tool_calls)
        self.usage = chunk.usage or self.usage
        self.finish_reason = chunk.finish_reason or self.finish_reason

    @property
    def text(self) -> str:
        return "".join(self.content)


def counted(request: ChatRequest, reply: str, route: routing.Route) -> Usage:
    """Usage counted locally, for upstreams that report none."""
    return estimated_usage(messages_text(request.messages), reply, route.endpoint.upstream_model)
