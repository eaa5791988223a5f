"""Start: where a run begins. Its outputs are the caller's prompt (``query``) and the typed
input variables it declares, filled from ``biz_params`` (defaults where the caller sent
none; a required one missing, or of the wrong type, fails the call with a 400)."""

from typing import Any, Literal

from pydantic import Field, field_validator

from apps.applications.workflow.nodes.base import Node, NodeContext, NodeResult, NodeSettings
from kernel.errors import InvalidParameter

InputType = Literal["string", "number", "boolean", "object", "array"]
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


class InputVariable(NodeSettings):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    type: InputType = "string"
    required: bool = False
    default: Any = None
    description: str = Field("", max_length=500)


class StartSettings(NodeSettings):
    variables: list[InputVariable] = Field(default_factory=list, max_length=50)

    @field_validator("variables")
    @classmethod
    def _distinct(cls, variables: list[InputVariable]) -> list[InputVariable]:
        names = [v.name for v in variables]
        if len(names) != len(set(names)) or "query" in names:
            raise ValueError("each variable name once, and not 'query' (the prompt's)")
        return variables


def matches(value: Any, type_name: str) -> bool:
    """Whether ``value`` is of the input type (a bool is not a number)."""
    if type_name == "number" and isinstance(value, bool):
        return False
    return isinstance(value, _PYTHON_TYPES[type_name])


def input_values(settings: StartSettings, given: dict[str, Any]) -> dict[str, Any]:
    """The start variables of one call, checked: what the caller sent, else the defaults."""
    values: dict[str, Any] = {}
    for variable in settings.variables:
        value = given.get(variable.name, variable.default)
        if value is None:
            if variable.required:
                raise InvalidParameter(
                    f"input.biz_params.{variable.name}: the workflow needs this variable."
                )
            value = "" if variable.type == "string" else None
        elif not matches(value, variable.type):
            raise InvalidParameter(f"input.biz_params.{variable.name}: expected a {variable.type}.")
        values[variable.name] = value
    return values


class Start(Node):
    type = "start"
    Settings = StartSettings

    def outputs(self, settings: StartSettings) -> dict[str, Any]:
        return {"query": "string", **{v.name: v.type for v in settings.variables}}

    def run(self, ctx: NodeContext, settings: StartSettings) -> NodeResult:
        # The runner checked the call's inputs (``input_values``) before the graph began.
        given = ctx.values.get("sys", {})
        return NodeResult({"query": given.get("query", ""), **given.get("inputs", {})})
