"""End: the run's result. Its output template, rendered over the variables, is the last
part of the answer the caller reads (after whatever answer nodes streamed)."""

from pydantic import Field

from apps.applications.workflow.nodes.base import (
    Node,
    NodeContext,
    NodeResult,
    NodeSettings,
    Read,
    template_reads,
)


class EndSettings(NodeSettings):
    output: str = Field("", max_length=20_000, description="A template: {{ node_id.output }}.")


class End(Node):
    type = "end"
    Settings = EndSettings

    def outputs(self, settings: EndSettings) -> dict[str, str]:
        return {"output": "string"}

    def reads(self, settings: EndSettings) -> list[Read]:
        return template_reads(settings.output, "output")

    def handles(self, settings: EndSettings) -> list[str]:
        return []

    def run(self, ctx: NodeContext, settings: EndSettings) -> NodeResult:
        text = ctx.render(settings.output)
        ctx.answer(text)
        return NodeResult({"output": text})
