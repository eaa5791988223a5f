"""Human input: the run stops to ask a person, and goes on with the answer.

The node asks through LangGraph's ``interrupt``: the run pauses, its state waits in
Postgres (``checkpoints``), the caller gets the question as the run's answer with
``waiting_for`` set, and the next call in the same session is the answer (``runner``).
On that call the node runs again from its start and ``interrupt`` returns the answer, so
nothing before the question may have effects that must not happen twice.
"""

from typing import Any

from langgraph.types import interrupt
from pydantic import Field

from apps.applications.workflow.nodes.base import (
    Node,
    NodeContext,
    NodeResult,
    NodeSettings,
    Read,
    as_text,
    template_reads,
)


class HumanInputSettings(NodeSettings):
    question: str = Field(min_length=1, max_length=20_000, description="A template.")


class HumanInput(Node):
    type = "human_input"
    Settings = HumanInputSettings
    #: The limit counts from the resumed call (a person may take days to answer).
    default_timeout_seconds = 300.0

    def outputs(self, settings: HumanInputSettings) -> dict[str, Any]:
        return {"answer": "string"}

    def reads(self, settings: HumanInputSettings) -> list[Read]:
        return template_reads(settings.question, "question")

    def run(self, ctx: NodeContext, settings: HumanInputSettings) -> NodeResult:
        question = ctx.render(settings.question)
        answer = interrupt({"node_id": ctx.node.id, "question": question})
        return NodeResult({"answer": as_text(answer)})
