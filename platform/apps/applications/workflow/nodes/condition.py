"""Condition: if / elif / else over variables. Each case is a list of comparisons joined by
``and`` or ``or``; the first case that holds names the handle the run leaves by, and
``else`` is taken when none does."""

from typing import Any, Literal

from pydantic import Field, field_validator

from apps.applications.workflow.nodes.base import (
    Node,
    NodeContext,
    NodeResult,
    NodeSettings,
    Read,
    as_text,
)

ELSE = "else"
Operator = Literal[
    "equals",
    "not_equals",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "empty",
    "not_empty",
    "gt",
    "ge",
    "lt",
    "le",
]
_NUMERIC = {"gt", "ge", "lt", "le"}


class Comparison(NodeSettings):
    variable: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$")
    operator: Operator = "equals"
    value: str | float | bool | None = None


class Case(NodeSettings):
    id: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
    logic: Literal["and", "or"] = "and"
    conditions: list[Comparison] = Field(min_length=1, max_length=20)


class ConditionSettings(NodeSettings):
    cases: list[Case] = Field(min_length=1, max_length=20)

    @field_validator("cases")
    @classmethod
    def _distinct(cls, cases: list[Case]) -> list[Case]:
        ids = [case.id for case in cases]
        if len(ids) != len(set(ids)) or ELSE in ids:
            raise ValueError("each case id once, and not 'else'")
        return cases


def holds(value: Any, operator: str, expected: Any) -> bool:
    """Whether one comparison holds (numbers compare as numbers, the rest as text)."""
    if operator == "empty":
        return value in (None, "", [], {})
    if operator == "not_empty":
        return value not in (None, "", [], {})
    if operator in _NUMERIC:
        try:
            left, right = float(value), float(expected)
        except (TypeError, ValueError):
            return False
        return {"gt": left > right, "ge": left >= right, "lt": left < right, "le": left <= right}[
            operator
        ]
    if operator in ("contains", "not_contains") and isinstance(value, list):
        found = expected in value or as_text(expected) in [as_text(v) for v in value]
        return found if operator == "contains" else not found
    text, wanted = as_text(value), as_text(expected)
    return {
        "equals": text == wanted,
        "not_equals": text != wanted,
        "contains": wanted in text,
        "not_contains": wanted not in text,
        "starts_with": text.startswith(wanted),
        "ends_with": text.endswith(wanted),
    }[operator]


class Condition(Node):
    type = "condition"
    Settings = ConditionSettings

    def outputs(self, settings: ConditionSettings) -> dict[str, str]:
        return {"branch": "string"}

    def reads(self, settings: ConditionSettings) -> list[Read]:
        return [
            Read(c.variable, "any", f"cases.{case.id}")
            for case in settings.cases
            for c in case.conditions
        ]

    def handles(self, settings: ConditionSettings) -> list[str]:
        return [case.id for case in settings.cases] + [ELSE]

    def run(self, ctx: NodeContext, settings: ConditionSettings) -> NodeResult:
        for case in settings.cases:
            results = (holds(ctx.value(c.variable), c.operator, c.value) for c in case.conditions)
            if all(results) if case.logic == "and" else any(results):
                return NodeResult({"branch": case.id}, branch=case.id)
        return NodeResult({"branch": ELSE}, branch=ELSE)
