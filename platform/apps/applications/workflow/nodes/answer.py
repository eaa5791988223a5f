"""Answer: streams text to the caller in the middle of a flow (the run goes on after it)."""

from pydantic import Field

from apps.applications.workflow.nodes.base import (
    Node,
    NodeContext,
    NodeResult,
    NodeSettings,
    Read,
    template_reads,
)


class AnswerSettings(NodeSettings):
    text: str = Field(min_length=1, max_length=20_000, description="A template.")


class Answer(Node):
    type = "answer"
    Settings = AnswerSettings

    def outputs(self, settings: AnswerSettings) -> dict[str, str]:
        return {"text": "string"}

    def reads(self, settings: AnswerSettings) -> list[Read]:
        return template_reads(settings.text, "text")

    def run(self, ctx: NodeContext, settings: AnswerSettings) -> NodeResult:
        text = ctx.render(settings.text)
        ctx.answer(text)
        return NodeResult({"text": text})
