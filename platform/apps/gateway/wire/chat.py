"""What both wire formats share for chat: function tools, the calls a model makes, message
text, and the plugin contract's ``ChatRequest`` built from them.

OpenAI and DashScope describe tools and tool calls with the same JSON, so both formats
read and write them here.
"""

from typing import Any, Literal

from ninja import Field, Schema

from plugins.base import ChatMessage, ChatRequest, ToolCall, ToolSpec
from plugins.chat_wire import tool_calls_param


class FunctionIn(Schema):
    name: str = Field(min_length=1, max_length=64)
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})


class ToolIn(Schema):
    type: Literal["function"] = "function"
    function: FunctionIn


class ToolCallFunctionIn(Schema):
    name: str
    arguments: str = ""


class ToolCallIn(Schema):
    id: str = ""
    type: Literal["function"] = "function"
    function: ToolCallFunctionIn


class ChatMessageIn(Schema):
    """A chat message as both formats write it; each narrows ``role`` to its own roles."""

    role: str
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = None


def text_of(content: str | list[dict[str, Any]] | None) -> str | None:
    """A message's text: plain, or the text parts of a multi-part content."""
    if content is None or isinstance(content, str):
        return content
    return "".join(
        str(part.get("text", "")) for part in content if part.get("type", "text") == "text"
    )


def tool_specs(tools: list[ToolIn] | None) -> list[ToolSpec]:
    return [
        ToolSpec(
            name=t.function.name,
            description=t.function.description,
            parameters=t.function.parameters,
        )
        for t in tools or []
    ]


def tool_calls_in(calls: list[ToolCallIn] | None) -> list[ToolCall]:
    return [
        ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments) for c in calls or []
    ]


def tool_calls_out(calls: list[ToolCall], *, with_index: bool = False) -> list[dict[str, Any]]:
    """Calls as both wires write them (``index`` in stream deltas and in DashScope)."""
    out = tool_calls_param(calls)
    return [{"index": index, **call} for index, call in enumerate(out)] if with_index else out


def chat_message(message: ChatMessageIn, role: str | None = None) -> ChatMessage:
    """One message of either format in the plugin contract's terms, as ``role`` when the
    format's role has another name there."""
    return ChatMessage(
        role=role or message.role,
        content=text_of(message.content),
        tool_calls=tool_calls_in(message.tool_calls),
        tool_call_id=message.tool_call_id,
    )


def chat_request(
    model: str,
    messages: list[ChatMessage],
    *,
    tools: list[ToolIn] | None,
    tool_choice: str | dict[str, Any] | None,
    stop: str | list[str] | None,
    temperature: float | None,
    top_p: float | None,
    max_tokens: int | None,
    **extra: Any,
) -> ChatRequest:
    """The provider request both formats make: ``stop`` as a list, and what the contract has
    no field for (``tool_choice``, given ``extra``) passed on only when the caller sent it."""
    passed = {"tool_choice": tool_choice, **extra}
    return ChatRequest(
        model=model,
        messages=messages,
        tools=tool_specs(tools),
        temperature=temperature,
        top_p=top_p,
        max_tokens=max_tokens,
        stop=[stop] if isinstance(stop, str) else (stop or []),
        extra={name: value for name, value in passed.items() if value is not None},
    )
