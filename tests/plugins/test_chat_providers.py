"""What every chat provider does alike, run against each of them and the upstream stub:
the end of a stream, tool calls streamed whole, a stream that breaks, a reply too slow."""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from plugins.base import (
    ChatRequest,
    ModelProvider,
    PluginSettings,
    ToolSpec,
    UpstreamConnectionError,
    UpstreamTimeoutError,
)
from plugins.models.dashscope_native import DashScopeProvider
from plugins.models.openai_compatible import OpenAICompatibleProvider
from tests import upstream as stub
from tests.plugins import provider_cases as cases


@dataclass(frozen=True)
class Wire:
    """One provider, its settings for the stub, its model and the stub's chat route."""

    provider: ModelProvider
    settings_for: Callable[..., PluginSettings]
    model: str
    route: str

    def ask(self, **fields: Any) -> ChatRequest:
        return cases.chat_request(self.model, **fields)


WIRES = {
    "openai": Wire(OpenAICompatibleProvider(), cases.openai_settings, "stub-chat", "chat"),
    "dashscope": Wire(
        DashScopeProvider(), cases.dashscope_settings, "qwen-plus", "dashscope.generation"
    ),
}


@pytest.fixture(params=sorted(WIRES))
def wire(request) -> Wire:
    return WIRES[request.param]


def test_stream_ends_with_finish_reason_and_usage(upstream, wire):
    upstream.script(wire.route, stub.stream(["a ", "b"]), stub.stream(["c"], usage=False))
    chunks = list(wire.provider.chat_stream(wire.ask(), wire.settings_for(upstream)))
    last = chunks[-1]
    assert (last.finish_reason, last.content, last.tool_calls) == ("stop", "", [])
    assert (last.usage.input_tokens, last.usage.output_tokens) == (2, 2)
    assert all(c.finish_reason is None and c.usage is None for c in chunks[:-1])
    without_usage = list(wire.provider.chat_stream(wire.ask(), wire.settings_for(upstream)))
    assert without_usage[-1].finish_reason == "stop"
    assert without_usage[-1].usage is None


def test_stream_tool_calls_arrive_whole_on_the_last_chunk(upstream, wire):
    upstream.script(wire.route, cases.STREAMED_TOOL_CALLS)
    request = wire.ask(tools=[ToolSpec(name="calculator")])
    chunks = list(wire.provider.chat_stream(request, wire.settings_for(upstream)))
    assert "".join(c.content for c in chunks) == "Let me check."
    assert all(not c.tool_calls for c in chunks[:-1])
    assert chunks[-1].finish_reason == "tool_calls"
    assert chunks[-1].tool_calls == cases.STREAMED_TOOL_CALLS_WHOLE
    assert json.loads(chunks[-1].tool_calls[0].arguments) == {"expression": "6*7"}


def test_stream_that_breaks_raises_after_the_chunks_it_got(upstream, wire):
    upstream.script(wire.route, stub.stream(["partial "], hang_up=True))
    received = []
    with pytest.raises(UpstreamConnectionError, match=r"127\.0\.0\.1"):
        chunks = wire.provider.chat_stream(wire.ask(), wire.settings_for(upstream))
        cases.contents_until_error(chunks, received)
    assert received == ["partial "]


def test_slow_reply_beyond_the_timeout_is_a_timeout(upstream, wire):
    upstream.script(wire.route, stub.slow(3))
    started = time.monotonic()
    with pytest.raises(UpstreamTimeoutError, match="did not answer within 1 s") as caught:
        wire.provider.chat(wire.ask(), wire.settings_for(upstream, timeout_seconds=1))
    assert time.monotonic() - started < 2
    assert isinstance(caught.value, UpstreamConnectionError)
    assert caught.value.retryable
