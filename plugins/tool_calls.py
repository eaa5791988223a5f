"""Joining the tool calls a model streams in fragments into whole ``ToolCall``s.

Streaming APIs (OpenAI's and DashScope's alike) send a tool call in pieces: the first
fragment of a call carries its ``index``, ``id`` and function name, later ones more of the
``arguments`` text. A provider feeds every fragment it receives to a ``ToolCallAssembler``
and asks it for the whole calls when the stream ends. Fragments may be dicts (DashScope's
SDK) or objects with attributes (OpenAI's SDK); both are read the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from plugins.base import ChatChunk, ToolCall, Usage


def _field(item: Any, name: str) -> Any:
    """``item[name]`` of a dict, ``item.name`` of an object; None when it has none."""
    if isinstance(item, Mapping):
        return item.get(name)
    return getattr(item, name, None)


def finish_reason_for(reported: str | None, calls: list[ToolCall]) -> str:
    """Why the answer ended: as the server said, else ``tool_calls`` when the model called
    tools and ``stop`` when it did not."""
    return reported or ("tool_calls" if calls else "stop")


class ToolCallAssembler:
    """Joins tool-call fragments, keyed by their ``index``, into whole calls."""

    def __init__(self) -> None:
        self._calls: dict[Any, dict[str, str]] = {}

    def add(self, fragments: Iterable[Any]) -> None:
        """Take in one event's fragments (dicts or SDK objects with ``index``, ``id`` and
        ``function.name`` / ``function.arguments``).

        A fragment without an ``index`` is keyed by its ``id``, or else its position in
        the event. A name is appended unless it repeats the name so far: some servers
        (DashScope) send the whole name again with every fragment.
        """
        for position, fragment in enumerate(fragments):
            index = _field(fragment, "index")
            key = index if index is not None else (_field(fragment, "id") or position)
            call = self._calls.setdefault(key, {"id": "", "name": "", "arguments": ""})
            if _field(fragment, "id"):
                call["id"] = _field(fragment, "id")
            function = _field(fragment, "function")
            name = _field(function, "name") or ""
            if name and name != call["name"]:
                call["name"] += name
            call["arguments"] += _field(function, "arguments") or ""

    def calls(self) -> list[ToolCall]:
        """The calls so far, in the order they began; one without an id gets ``call_<n>``."""
        return [
            ToolCall(id=call["id"] or f"call_{n}", name=call["name"], arguments=call["arguments"])
            for n, call in enumerate(self._calls.values())
        ]

    def last_chunk(self, reported_finish: str | None, usage: Usage | None) -> ChatChunk:
        """A stream's last chunk: the whole calls, why the answer ended and the usage."""
        calls = self.calls()
        return ChatChunk(
            tool_calls=calls, finish_reason=finish_reason_for(reported_finish, calls), usage=usage
        )
