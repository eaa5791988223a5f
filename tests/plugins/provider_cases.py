"""What the model providers' tests share: the key, the tools and the tool-call conversation
they send (and how each looks on the wire, where both APIs agree), the replies that echo
the key, and helpers for ports and streams."""

import socket
import time
from collections.abc import Iterable
from typing import Any

from plugins.base import ChatChunk, ChatMessage, ChatRequest, ToolCall, ToolSpec
from plugins.models.dashscope_native import DashScopeSettings
from plugins.models.openai_compatible import OpenAICompatibleSettings
from tests.upstream import UpstreamServer, error, raw, tool_calls

KEY = "sk-live-5f1d2c3b4a5e6f708192a3b4c5d6e7f8"

#: Sampling parameters every chat API takes.
PARAMETERS = {"temperature": 0.2, "top_p": 0.9, "max_tokens": 64, "stop": ["\n\n"]}

#: Two tools, one with parameters and one without, and the function tools they are sent as.
TOOLS = [
    ToolSpec(
        name="calculator",
        description="Arithmetic.",
        parameters={"type": "object", "properties": {"expression": {"type": "string"}}},
    ),
    ToolSpec(name="now"),
]
TOOLS_SENT = [
    {
        "type": "function",
        "function": {
            "name": "calculator",
            "description": "Arithmetic.",
            "parameters": {"type": "object", "properties": {"expression": {"type": "string"}}},
        },
    },
    {"type": "function", "function": {"name": "now", "parameters": {"type": "object"}}},
]

#: A conversation in which the assistant called both tools and got their results.
TOOL_CONVERSATION = [
    ChatMessage(role="system", content="Use tools."),
    ChatMessage(role="user", content="6*7, and the time?"),
    ChatMessage(
        role="assistant",
        tool_calls=[
            ToolCall(id="call_a", name="calculator", arguments='{"expression": "6*7"}'),
            ToolCall(id="call_b", name="now", arguments="{}"),
        ],
    ),
    ChatMessage(role="tool", tool_call_id="call_a", content="42"),
    ChatMessage(role="tool", tool_call_id="call_b", content="12:00"),
]
#: The assistant message's ``tool_calls`` as both APIs send them.
TOOL_CALLS_SENT = [
    {
        "id": "call_a",
        "type": "function",
        "function": {"name": "calculator", "arguments": '{"expression": "6*7"}'},
    },
    {"id": "call_b", "type": "function", "function": {"name": "now", "arguments": "{}"}},
]

#: A streamed reply with text and two tool calls, and the calls it must come out as.
STREAMED_TOOL_CALLS = tool_calls(
    ("calculator", {"expression": "6*7"}, "call_1"),
    ("now", "{}", "call_2"),
    content="Let me check.",
)
STREAMED_TOOL_CALLS_WHOLE = [
    ToolCall(id="call_1", name="calculator", arguments='{"expression": "6*7"}'),
    ToolCall(id="call_2", name="now", arguments="{}"),
]

#: Error replies whose text echoes the key back.
KEY_ECHOING_ERRORS = [
    error(400, f"Invalid key format: {KEY}"),
    error(429, f"Key {KEY} is over quota", retry_after=1),
    error(500, f"crash while handling {KEY}"),
    raw(502, f"proxy error for Authorization: Bearer {KEY}"),
]


def dashscope_settings(server: UpstreamServer, **overrides: Any) -> DashScopeSettings:
    """The DashScope provider's settings for the stub ``server`` (no retries)."""
    values = {
        "api_key": KEY,
        "base_url": server.dashscope_base_url,
        "max_retries": 0,
        "timeout_seconds": 5,
    }
    return DashScopeSettings(**(values | overrides))


def openai_settings(server: UpstreamServer, **overrides: Any) -> OpenAICompatibleSettings:
    """The OpenAI-compatible provider's settings for the stub ``server`` (no retries)."""
    values = {"base_url": server.openai_base_url, "max_retries": 0, "timeout_seconds": 5}
    return OpenAICompatibleSettings(**(values | overrides))


def chat_request(model: str, content: str = "Hello there", **fields: Any) -> ChatRequest:
    """A request for ``model`` with one user message."""
    return ChatRequest(model=model, messages=[ChatMessage(role="user", content=content)], **fields)


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_finished(request: Any, seconds: float = 2.0) -> None:
    """Wait for the stub to note the end of ``request`` (just after writing it)."""
    deadline = time.monotonic() + seconds
    while request.finished_at is None and time.monotonic() < deadline:
        time.sleep(0.005)


def timed(chunks: Iterable[ChatChunk]) -> list[tuple[float, ChatChunk]]:
    """Each chunk with the moment it arrived."""
    return [(time.monotonic(), chunk) for chunk in chunks]


def contents_until_error(chunks: Iterable[ChatChunk], received: list[str]) -> None:
    """Append each chunk's content to ``received`` until the stream ends or raises."""
    for chunk in chunks:
        received.append(chunk.content)
