"""How a run's model is offered tools and how its replies are read: the tool-loop
strategies. ``NativeToolCalling`` sends the tools as OpenAI-style functions and reads the
calls the model makes; ``ReAct`` describes them in the system prompt and reads
``Action:`` / ``Final Answer:`` from the reply text (for models without native calls).

A strategy is made for one run and used a turn at a time: ``request_for`` the next model
call, ``shown`` for each streamed piece of its reply, ``after_reply`` to decide whether the
run is answered or which tools to use, and ``observe`` for each tool's result.
"""

from abc import ABC, abstractmethod
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from apps.applications import prompts, react
from apps.applications.config import AppConfigSchema
from apps.applications.events import Event, Thought
from apps.applications.models import StepKind
from apps.applications.recording import Trace
from apps.applications.toolbox import Toolbox, observation
from apps.gateway import routing
from apps.model_endpoints.models import EndpointCapability
from kernel.errors import InvalidParameter
from plugins.base import ChatMessage, ChatRequest, ToolCall, ToolResult, ToolSpec


@dataclass(frozen=True)
class Reply:
    """What the model sent back in one turn."""

    content: str
    calls: list[ToolCall]
    finish_reason: str = "stop"


@dataclass(frozen=True)
class ToolUse:
    """One tool the model asked for, with the thought that came with it."""

    name: str
    arguments: str
    thought: str
    call_id: str = ""


@dataclass(frozen=True)
class Decision:
    """After a reply: the tools to use next (none: the run is answered), and answer text
    the stream did not show."""

    uses: list[ToolUse] = field(default_factory=list)
    unshown_answer: str = ""


class ToolLoop(ABC):
    """The part of the loop both strategies share; see the module's docstring."""

    mode = ""

    def __init__(self, toolbox: Toolbox) -> None:
        self.toolbox = toolbox

    def system_suffix(self) -> str:
        """Text the system prompt ends with ("" for none)."""
        return ""

    def request_for(
        self, messages: list[ChatMessage], last: bool, sampling: dict[str, Any]
    ) -> ChatRequest:
        """The next model call; ``sampling`` is the model and its sampling parameters."""
        return ChatRequest(
            messages=messages, tools=self._tools(last), stop=self._stop(), **sampling
        )

    def shown(self, piece: str) -> str:
        """The part of a streamed piece of the reply that is the answer."""
        return piece

    @abstractmethod
    def after_reply(self, messages: list[ChatMessage], reply: Reply, last: bool) -> Decision:
        """Read the turn's reply: add it to ``messages`` when the run goes on, and say which
        tools to use next (none: the run is answered)."""

    @abstractmethod
    def observe(self, messages: list[ChatMessage], use: ToolUse, seen: str) -> None:
        """Give a tool's result back to the model."""

    def _tools(self, last: bool) -> list[ToolSpec]:
        return []

    def _stop(self) -> list[str]:
        return []


class NativeToolCalling(ToolLoop):
    mode = "native"

    def _tools(self, last: bool) -> list[ToolSpec]:
        # The last call is offered no tools, so it must answer.
        return self.toolbox.specs if self.toolbox and not last else []

    def after_reply(self, messages: list[ChatMessage], reply: Reply, last: bool) -> Decision:
        if not reply.calls:
            return Decision()
        messages.append(
            ChatMessage(role="assistant", content=reply.content or None, tool_calls=reply.calls)
        )
        uses = [
            ToolUse(call.name, call.arguments, thought=reply.content, call_id=call.id)
            for call in reply.calls
        ]
        return Decision(uses)

    def observe(self, messages: list[ChatMessage], use: ToolUse, seen: str) -> None:
        messages.append(ChatMessage(role="tool", content=seen, tool_call_id=use.call_id))


class ReAct(ToolLoop):
    """ReAct when there are tools; without tools the reply is simply the answer."""

    mode = "react"

    def __init__(self, toolbox: Toolbox) -> None:
        super().__init__(toolbox)
        self._final_answer: react.FinalAnswerStream | None = None

    def system_suffix(self) -> str:
        return prompts.react_instructions(self.toolbox.specs) if self.toolbox else ""

    def request_for(
        self, messages: list[ChatMessage], last: bool, sampling: dict[str, Any]
    ) -> ChatRequest:
        """As the base's; before the last call the model is told to answer now."""
        if self.toolbox and last:
            messages.append(ChatMessage(role="user", content=prompts.REACT_ANSWER_NOW))
        self._final_answer = react.FinalAnswerStream() if self.toolbox else None
        return super().request_for(messages, last, sampling)

    def shown(self, piece: str) -> str:
        return self._final_answer.feed(piece) if self._final_answer else piece

    def after_reply(self, messages: list[ChatMessage], reply: Reply, last: bool) -> Decision:
        parsed = react.parse(reply.content) if self.toolbox else react.Answer("", reply.content)
        if isinstance(parsed, react.Answer) or last:
            text = parsed.text if isinstance(parsed, react.Answer) else reply.content
            return Decision(unshown_answer=self._unshown(text))
        messages.append(ChatMessage(role="assistant", content=reply.content))
        return Decision([ToolUse(parsed.tool, parsed.arguments, thought=parsed.thought)])

    def observe(self, messages: list[ChatMessage], use: ToolUse, seen: str) -> None:
        messages.append(ChatMessage(role="user", content=f"Observation: {seen}"))

    def _stop(self) -> list[str]:
        return ["Observation:"] if self.toolbox else []

    def _unshown(self, text: str) -> str:
        # No "Final Answer:" marker came: the whole reply is the answer, not yet shown.
        if self._final_answer is not None and not self._final_answer.streamed_any:
            return text
        return ""


def for_model(config: AppConfigSchema, route: routing.Route, toolbox: Toolbox) -> ToolLoop:
    """Native tool calling when the app asks for it or the model declares it, else ReAct."""
    declared = EndpointCapability.TOOL_CALLS in route.endpoint.capabilities
    if config.tool_calling == "native" and not declared:
        raise InvalidParameter(
            f"The app asks for native tool calling, but model '{config.model}' does not "
            "declare tool_calls; set tool_calling to auto or react."
        )
    native = config.tool_calling == "native" or (config.tool_calling == "auto" and declared)
    return NativeToolCalling(toolbox) if native else ReAct(toolbox)


def use_tool(toolbox: Toolbox, trace: Trace, use: ToolUse) -> Generator[Event, None, str]:
    """Call one tool, trace it, yield its thought; returns the observation text."""
    arguments, invocation = toolbox.call(use.name, use.arguments)
    result = invocation.result
    seen = observation(result)
    trace.step(
        StepKind.TOOL,
        use.name,
        input={"arguments": arguments or use.arguments},
        output=_tool_output(result),
        latency_ms=invocation.duration_ms,
        error=result.content if result.is_error else "",
    )
    data = {
        "thought": use.thought,
        "action_type": "api",
        "action_name": use.name,
        "action": use.name,
        "action_input_stream": use.arguments,
        "action_input": arguments,
        "observation": seen,
        "response": "",
    }
    trace.thoughts.append(data)
    yield Thought(data)
    return seen


def _tool_output(result: ToolResult) -> dict[str, Any]:
    """A tool step's output; an app called as a tool adds its sub-run's id, so the trace
    can show that run beneath this step."""
    output: dict[str, Any] = {"content": result.content, "is_error": result.is_error}
    if isinstance(result.data, dict) and result.data.get("run_id"):
        output["run_id"] = result.data["run_id"]
    return output
