"""What a run yields: ``Thought``s (a retrieval or a tool call, in DashScope's thought
shape), ``TextDelta``s of the answer as the model writes it, a workflow's ``NodeStarted``
and ``NodeFinished`` around each node it runs, and one ``Finished``."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class Thought:
    """A step the app took, in DashScope's ``output.thoughts`` item shape."""

    data: dict[str, Any]


@dataclass(frozen=True)
class NodeStarted:
    node_id: str
    node_type: str
    title: str
    inputs: dict[str, Any]


@dataclass(frozen=True)
class NodeFinished:
    node_id: str
    node_type: str
    title: str
    status: str  # "succeeded", "failed" or "waiting" (a human-input node asked its question)
    outputs: dict[str, Any]
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: int = 0
    error: str = ""


@dataclass(frozen=True)
class Finished:
    text: str
    finish_reason: str
    session_id: str
    thoughts: list[dict[str, Any]]
    doc_references: list[dict[str, Any]] | None
    usage: list[dict[str, Any]]
    #: Set when a human-input node paused the run: ``{"node_id", "question"}``; the next
    #: call with the same session_id answers it.
    waiting_for: dict[str, Any] | None = None

    @property
    def input_tokens(self) -> int:
        return sum(model["input_tokens"] for model in self.usage)

    @property
    def output_tokens(self) -> int:
        return sum(model["output_tokens"] for model in self.usage)


Event = TextDelta | Thought | NodeStarted | NodeFinished | Finished
