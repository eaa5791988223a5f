"""The condition node: if / elif / else over variables; the first case that holds names the
handle taken, ``else`` when none does."""

import pytest
from pydantic import ValidationError

from apps.applications.workflow.nodes.condition import Condition, ConditionSettings, holds
from tests.applications.workflows.conftest import definition, edge, node, node_outputs, run, text

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("value", "operator", "expected", "result"),
    [
        ("refund please", "contains", "refund", True),
        ("refund please", "not_contains", "refund", False),
        ("abc", "starts_with", "ab", True),
        ("abc", "ends_with", "bc", True),
        ("abc", "equals", "abc", True),
        ("abc", "not_equals", "abc", False),
        (3, "equals", "3", True),
        ("", "empty", None, True),
        ([], "empty", None, True),
        ({"a": 1}, "not_empty", None, True),
        ("10", "gt", 9, True),
        (9, "ge", 9, True),
        (2.5, "lt", "3", True),
        (3, "le", 2, False),
        ("ten", "gt", 9, False),  # not a number: the comparison does not hold
        (["a", "b"], "contains", "b", True),
        ([1, 2], "contains", "2", True),
        (["a"], "not_contains", "b", True),
    ],
)
def test_each_operator(value, operator, expected, result):
    assert holds(value, operator, expected) is result


def routed() -> dict:
    """start (n: number) → condition: big (n > 100), mid (n > 10 and n <= 100), else."""
    return definition(
        [
            node("start", "start", variables=[{"name": "n", "type": "number"}]),
            node(
                "size",
                "condition",
                cases=[
                    {
                        "id": "big",
                        "conditions": [{"variable": "start.n", "operator": "gt", "value": 100}],
                    },
                    {
                        "id": "mid",
                        "logic": "and",
                        "conditions": [
                            {"variable": "start.n", "operator": "gt", "value": 10},
                            {"variable": "start.n", "operator": "le", "value": 100},
                        ],
                    },
                ],
            ),
            node("say_big", "answer", text="big"),
            node("say_mid", "answer", text="mid"),
            node("say_small", "answer", text="small"),
        ],
        [
            edge("start", "size"),
            edge("size", "say_big", "big"),
            edge("size", "say_mid", "mid"),
            edge("size", "say_small", "else"),
        ],
    )


@pytest.mark.parametrize(("n", "said"), [(500, "big"), (50, "mid"), (5, "small")])
def test_the_first_case_that_holds_is_taken_else_else(workflow_app, n, said):
    events = run(workflow_app(routed()), "x", {"n": n})
    assert text(events) == said
    assert node_outputs(events)["size"] == {
        "branch": {"big": "big", "mid": "mid"}.get(said, "else")
    }


def test_or_logic(workflow_app):
    data = routed()
    data["nodes"][1]["data"]["cases"] = [
        {
            "id": "big",
            "logic": "or",
            "conditions": [
                {"variable": "start.n", "operator": "equals", "value": "7"},
                {"variable": "start.n", "operator": "gt", "value": 100},
            ],
        }
    ]
    data["edges"] = [e for e in data["edges"] if e["source_handle"] != "mid"]
    data["nodes"] = [n for n in data["nodes"] if n["id"] != "say_mid"]
    assert text(run(workflow_app(data), "x", {"n": 7})) == "big"


def test_handles_reads_and_outputs():
    settings = ConditionSettings.model_validate(routed()["nodes"][1]["data"])
    assert Condition().handles(settings) == ["big", "mid", "else"]
    assert [(r.reference, r.where) for r in Condition().reads(settings)] == [
        ("start.n", "cases.big"),
        ("start.n", "cases.mid"),
        ("start.n", "cases.mid"),
    ]
    assert Condition().outputs(settings) == {"branch": "string"}


@pytest.mark.parametrize(
    "cases",
    [
        [],
        [{"id": "a", "conditions": []}],
        [{"id": "else", "conditions": [{"variable": "a.b"}]}],
        [
            {"id": "a", "conditions": [{"variable": "a.b"}]},
            {"id": "a", "conditions": [{"variable": "a.b"}]},
        ],
        [{"id": "a", "conditions": [{"variable": "not a variable"}]}],
        [{"id": "a", "conditions": [{"variable": "a.b", "operator": "resembles"}]}],
    ],
)
def test_bad_settings_are_refused(cases):
    with pytest.raises(ValidationError):
        ConditionSettings.model_validate({"cases": cases})
