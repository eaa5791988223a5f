"""The node contract: what a node type declares (its settings, outputs, the variables it
reads, the handles it leaves by, the workspace's things it uses) and what a running node
is given (``NodeContext``: the variables so far, the caller, the gateway, the trace).

Variables are named ``node_id.output`` (``sys.query`` for the caller's prompt); templates
write them ``{{ node_id.output }}``.
"""

import contextlib
import json
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from apps.applications.events import Event
from apps.applications.model_calls import ReplyParts, again, counted, model_stream
from apps.applications.models import StepKind
from apps.applications.recording import ms_since
from apps.applications.workflow.definition import NEXT, NodeDefinition
from apps.applications.workflow.engine import Deadline, RunContext, WorkflowNodeFailed
from apps.gateway import routing
from apps.model_endpoints.models import EndpointCapability
from plugins.base import ChatMessage, ChatRequest, ToolCall, ToolSpec, Usage

VarType = Literal["string", "number", "boolean", "object", "array", "any"]
VAR_TYPES: tuple[str, ...] = ("string", "number", "boolean", "object", "array", "any")
REFERENCE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)$")
TEMPLATE_REFERENCE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class NodeSettings(BaseModel):
    """A node type's settings (the node's ``data``); unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Read:
    """A variable a node reads, the type it needs there, and the setting that names it."""

    reference: str
    type: VarType = "any"
    where: str = ""


@dataclass
class Uses:
    """The workspace's things a node's settings name (checked on save)."""

    models: list[str] = field(default_factory=list)
    knowledge_base_ids: list[str] = field(default_factory=list)
    #: ``{"type": "plugin" | "http", "id": ...}``, as an agent app's tools are named.
    tools: list[dict[str, str]] = field(default_factory=list)
    app_ids: list[str] = field(default_factory=list)
    #: Those of ``app_ids`` that must be agent apps (an agent node runs one as itself).
    agent_app_ids: list[str] = field(default_factory=list)


@dataclass
class NodeResult:
    outputs: dict[str, Any]
    #: The handle the run leaves the node by.
    branch: str = NEXT


def template_reads(template: str, where: str) -> list[Read]:
    """The variables a ``{{ node.output }}`` template reads."""
    found = TEMPLATE_REFERENCE.findall(template)
    return [Read(f"{node}.{name}", "any", where) for node, name in found]


def as_text(value: Any) -> str:
    """A variable as it appears in a prompt or an answer."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


class Node(ABC):
    """One node type; one instance serves every node of that type."""

    type: ClassVar[str]
    Settings: ClassVar[type[NodeSettings]] = NodeSettings
    #: The time limit of a node that sets none.
    default_timeout_seconds: ClassVar[float] = 300.0

    def outputs(self, settings: Any) -> dict[str, VarType]:
        """The variables the node produces, by name, with their types."""
        return {}

    def reads(self, settings: Any) -> list[Read]:
        """The variables the node's settings read."""
        return []

    def handles(self, settings: Any) -> list[str]:
        """The handles edges may leave the node by."""
        return [NEXT]

    def uses(self, settings: Any) -> Uses:
        """The models, knowledge bases, tools and apps the node's settings name."""
        return Uses()

    @abstractmethod
    def run(self, ctx: "NodeContext", settings: Any) -> NodeResult:
        """Do the node's work with the variables so far; its outputs and the handle taken."""


@dataclass
class ChatResult:
    text: str
    calls: list[ToolCall]
    usage: Usage
    finish_reason: str


class NodeContext:
    """What a running node is given: the run, its own definition, the variables so far."""

    def __init__(
        self, run: RunContext, node: NodeDefinition, values: dict[str, dict[str, Any]]
    ) -> None:
        self.run = run
        self.node = node
        self.values = values
        self.deadline: Deadline | None = None
        #: Runs an iteration's inside once from the given variables (set for every node;
        #: only the iteration node uses it).
        self.run_inside: Callable[[dict[str, Any]], dict[str, dict[str, Any]]] | None = None
        self.input_tokens = 0
        self.output_tokens = 0

    # --- variables ----------------------------------------------------------------------------

    def value(self, reference: str) -> Any:
        """The value of ``node_id.output``; the node fails when nothing produced it."""
        match = REFERENCE.match(reference or "")
        if not match:
            raise self.failed(f"'{reference}' is not a variable (write node_id.output).")
        node_id, name = match.groups()
        outputs = self.values.get(node_id)
        if outputs is None or name not in outputs:
            raise self.failed(f"{reference} has no value here (did {node_id} run?).")
        return outputs[name]

    def render(self, template: str) -> str:
        """``template`` with each ``{{ node_id.output }}`` replaced by its value."""
        return TEMPLATE_REFERENCE.sub(
            lambda m: as_text(self.value(f"{m.group(1)}.{m.group(2)}")), template
        )

    # --- the caller ---------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        self.check()
        self.run.emit(event)

    def answer(self, text: str) -> None:
        """Stream ``text`` to the caller as part of the run's answer."""
        if text:
            self.check()
            self.run.emit(self.run.recorder.answered(text))

    def check(self) -> None:
        """Raise when the caller has gone or the node's time is up."""
        self.run.check()
        if self.deadline is not None:
            self.deadline.check()

    def failed(self, reason: str) -> WorkflowNodeFailed:
        return WorkflowNodeFailed(f"Node '{self.node.label}' ({self.node.type}): {reason}")

    # --- the gateway --------------------------------------------------------------------------

    def route(self, model: str) -> routing.Route:
        """The gateway's route to a chat model, metered for this app and node: looked up
        once per run and node, each call on its own copy with its own meter."""
        found = self.run.resolved(
            ("route", model, self.node.id),
            lambda: routing.route(
                self.run.workspace,
                model,
                EndpointCapability.CHAT,
                surface=self.run.surface,
                api_key=self.run.api_key,
                app_id=str(self.run.app.pk),
                node_id=self.node.id,
            ),
        )
        return again(found)

    def chat(
        self,
        model: str,
        messages: list[ChatMessage],
        *,
        tools: list[ToolSpec] | None = None,
        response_format: dict[str, Any] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> ChatResult:
        """One model call through the gateway (quotas and metering hold); traced."""
        target = self.route(model)
        request = ChatRequest(
            model=model,
            messages=messages,
            tools=tools or [],
            # Passed through to the upstream (OpenAI's and DashScope's name for it).
            extra={"response_format": response_format} if response_format else {},
            temperature=temperature,
            max_tokens=max_tokens,
        )
        began = time.monotonic()
        parts = ReplyParts()
        with contextlib.closing(model_stream(target, request)) as chunks:
            for chunk in chunks:
                self.check()
                parts.add(chunk)
        usage = parts.usage or counted(request, parts.text, target)
        self.run.trace.count(target.endpoint.name, usage)
        self.input_tokens += usage.input_tokens
        self.output_tokens += usage.output_tokens
        self.run.trace.step(
            StepKind.MODEL,
            target.endpoint.name,
            input={"messages": [m.model_dump(exclude_none=True) for m in messages]},
            output={
                "content": parts.text,
                "tool_calls": [c.model_dump() for c in parts.calls],
                "finish_reason": parts.finish_reason,
            },
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            latency_ms=ms_since(began),
        )
        return ChatResult(parts.text, parts.calls, usage, parts.finish_reason)
