"""What a run yields: ``Thought``s (a retrieval or a tool call, in DashScope's thought
shape), ``TextDelta``s of the answer as the model writes it, and one ``Finished``."""

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
class Finished:
    text: str
    finish_reason: str
    session_id: str
    thoughts: list[dict[str, Any]]
    doc_references: list[dict[str, Any]] | None
    usage: list[dict[str, Any]]

    @property
    def input_tokens(self) -> int:
        return sum(model["input_tokens"] for model in self.usage)

    @property
    def output_tokens(self) -> int:
        return sum(model["output_tokens"] for model in self.usage)


Event = TextDelta | Thought | Finished
