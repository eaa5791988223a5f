"""Variable aggregator: joins branches. After a condition or a question classifier only
one branch runs, so only one of the variables its branches produce has a value; this node's
``output`` is the first of ``variables``, in the order listed, that has one, and the nodes
after it read that one variable whichever branch ran.

Settings: ``variables`` (one or more ``node_id.output``) and ``type`` (of ``output``; each
variable must be of it: checked when the workflow is saved and again on the value). A
variable has no value when its node did not run, or when its value is null. The node fails
when none has a value.
"""

from typing import Any

from pydantic import Field, field_validator

from apps.applications.workflow.nodes.base import (
    Node,
    NodeContext,
    NodeResult,
    NodeSettings,
    Read,
    VarType,
)
from apps.applications.workflow.nodes.references import Reference
from apps.applications.workflow.nodes.start import matches


class VariableAggregatorSettings(NodeSettings):
    variables: list[Reference] = Field(
        min_length=1,
        max_length=20,
        description="Variables of the branches (node_id.output); the first with a value wins.",
    )
    type: VarType = Field("any", description="The type of the output, and of each variable.")

    @field_validator("variables")
    @classmethod
    def _distinct(cls, variables: list[str]) -> list[str]:
        if len(variables) != len(set(variables)):
            raise ValueError("each variable once")
        return variables


def value_of(ctx: NodeContext, reference: str) -> Any:
    """The variable's value, or ``None`` when its node did not run (no failure here)."""
    node_id, _, name = reference.partition(".")
    return ctx.values.get(node_id, {}).get(name)


class VariableAggregator(Node):
    type = "variable_aggregator"
    Settings = VariableAggregatorSettings

    def outputs(self, settings: VariableAggregatorSettings) -> dict[str, VarType]:
        return {"output": settings.type}

    def reads(self, settings: VariableAggregatorSettings) -> list[Read]:
        return [Read(reference, settings.type, "variables") for reference in settings.variables]

    def run(self, ctx: NodeContext, settings: VariableAggregatorSettings) -> NodeResult:
        for reference in settings.variables:
            value = value_of(ctx, reference)
            if value is None:
                continue
            if settings.type != "any" and not matches(value, settings.type):
                raise ctx.failed(
                    f"{reference} is not a {settings.type} "
                    f"(it is a {type(value).__name__}); change type or the variable."
                )
            return NodeResult({"output": value})
        raise ctx.failed(
            f"none of {', '.join(settings.variables)} has a value: none of the nodes that "
            "produce them ran, or each produced null."
        )
