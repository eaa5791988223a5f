"""What both wire formats share: function tools, the calls a model makes, message text.

OpenAI and DashScope describe tools and tool calls with the same JSON, so both surfaces
read and write them here.
"""

from typing import Any, Literal

from ninja import Field, Schema

from plugins.base import ToolCall, ToolSpec


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
    return [
        {
            **({"index": index} if with_index else {}),
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments},
        }
        for index, call in enumerate(calls)
    ]
