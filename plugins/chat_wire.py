"""What the OpenAI and DashScope chat APIs spell alike, for the providers that speak them:
the keys a request's ``extra`` may not set, the function tools and sampling parameters,
and an assistant message's tool calls."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from plugins.base import ChatRequest, ToolCall


def refuse_reserved(extra: Mapping[str, Any], reserved: frozenset[str]) -> None:
    """Raise ``ValueError`` naming the keys of ``extra`` that are in ``reserved`` (those the
    provider sends itself, or that would steer its transport)."""
    found = reserved & extra.keys()
    if found:
        raise ValueError(f"extra may not set {', '.join(sorted(found))}")


def chat_options(request: ChatRequest) -> dict[str, Any]:
    """The request's tools (as function tools) and the sampling parameters it sets; those
    it leaves unset are left out, for the server's defaults."""
    options: dict[str, Any] = {}
    if request.tools:
        options["tools"] = [tool.as_function_tool() for tool in request.tools]
    if request.temperature is not None:
        options["temperature"] = request.temperature
    if request.top_p is not None:
        options["top_p"] = request.top_p
    if request.max_tokens is not None:
        options["max_tokens"] = request.max_tokens
    if request.stop:
        options["stop"] = list(request.stop)
    return options


def tool_calls_param(calls: Iterable[ToolCall]) -> list[dict[str, Any]]:
    """An assistant message's ``tool_calls``, as both APIs take them back."""
    return [
        {
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments},
        }
        for call in calls
    ]
