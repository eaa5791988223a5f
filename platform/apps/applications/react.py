"""Reading a ReAct reply: a tool request (``Action`` / ``Action Input``) or an answer
(``Final Answer``), for models that cannot call tools natively.

``FinalAnswerStream`` lets the answer part stream while the model writes it: the text
before ``Final Answer:`` (its thought) is held back, the text after it passes through.
"""

import re
from dataclasses import dataclass

_ACTION = re.compile(r"^\s*Action\s*:\s*(.+?)\s*$", re.MULTILINE)
_ACTION_INPUT = re.compile(r"^\s*Action Input\s*:\s*(.*)", re.MULTILINE | re.DOTALL)
_THOUGHT = re.compile(r"^\s*Thought\s*:\s*(.*?)(?=^\s*(Action|Final Answer)\s*:|\Z)", re.M | re.S)
FINAL_ANSWER = "Final Answer:"


@dataclass(frozen=True)
class ToolRequest:
    thought: str
    tool: str
    arguments: str


@dataclass(frozen=True)
class Answer:
    thought: str
    text: str


def parse(reply: str) -> ToolRequest | Answer:
    """What the model's ReAct reply asks for. A reply in neither form is the answer."""
    thought_match = _THOUGHT.search(reply)
    thought = thought_match.group(1).strip() if thought_match else ""
    final_at = reply.find(FINAL_ANSWER)
    action = _ACTION.search(reply)
    if action and (final_at < 0 or action.start() < final_at):
        given = _ACTION_INPUT.search(reply, action.end())
        arguments = given.group(1).strip() if given else "{}"
        arguments = arguments.split("\nObservation:")[0].strip()
        # Models often fence the JSON in a code block.
        arguments = re.sub(r"^```(?:json)?\s*|\s*```$", "", arguments)
        return ToolRequest(thought=thought, tool=action.group(1).strip(), arguments=arguments)
    if final_at >= 0:
        return Answer(thought=thought, text=reply[final_at + len(FINAL_ANSWER) :].strip())
    return Answer(thought="", text=reply.strip())


class FinalAnswerStream:
    """Feed it the reply's pieces; it returns the part of each that belongs to the final
    answer (nothing until ``Final Answer:`` has been written)."""

    def __init__(self) -> None:
        self.reply = ""
        self._answer_from: int | None = None
        self._sent = 0

    def feed(self, piece: str) -> str:
        self.reply += piece
        if self._answer_from is None:
            found = self.reply.find(FINAL_ANSWER)
            if found < 0:
                return ""
            self._answer_from = self._sent = found + len(FINAL_ANSWER)
        new = self.reply[self._sent :]
        if self._sent == self._answer_from:  # nothing sent yet: drop the marker's space
            stripped = new.lstrip()
            self._sent += len(new) - len(stripped)
            new = stripped
        self._sent += len(new)
        return new

    @property
    def streamed_any(self) -> bool:
        return self._answer_from is not None
