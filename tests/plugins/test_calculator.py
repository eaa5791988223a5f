"""The calculator parses arithmetic; nothing else gets through."""

import pytest

from plugins.base import PluginSettings, ToolContext
from plugins.tools.calculator import CalculationError, Calculator, CalculatorArguments, evaluate


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("2 ^ 10", 1024),
        ("7 // 2 + 7 % 2", 4),
        ("-3 ** 2", -9),
        ("sqrt(16) + abs(-2)", 6.0),
        ("max(1, 5, 3) - min(4, 2)", 3),
        ("round(pi, 2)", 3.14),
        ("3 \u00d7 4 \u00f7 2", 6.0),
    ],
)
def test_arithmetic(expression, value):
    assert evaluate(expression) == pytest.approx(value)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("__import__('os').system('id')", "not allowed"),
        ("().__class__", "not allowed"),
        ("open('/etc/passwd')", "not allowed"),
        ("x + 1", "unknown name 'x'"),
        ("1 / 0", "division by zero"),
        ("9 ** 9 ** 9", "exponents are limited"),
        ("10 ** 400", "too large"),
        ("(-1) ** 0.5", "not a real number"),
        ("sqrt(-1)", "math domain error"),
        ("1 +", "not an arithmetic expression"),
        ("'a' * 3", "not allowed"),
        ("[1, 2]", "not allowed"),
        ("1" * 501, "longer than 500"),
        ("max()", "expected at least 1 argument"),
        ("round(x=1)", "not allowed"),
    ],
)
def test_refusals_say_why(expression, reason):
    with pytest.raises(CalculationError, match=reason):
        evaluate(expression)


def test_the_tool_returns_integers_plainly_and_errors_as_results():
    tool = Calculator()
    context = ToolContext(settings=PluginSettings())
    ok = tool.invoke(CalculatorArguments(expression="2 * 3.5"), context)
    assert (ok.content, ok.data, ok.is_error) == ("7", {"value": 7}, False)
    refused = tool.invoke(CalculatorArguments(expression="1/0"), context)
    assert refused.is_error and "division by zero" in refused.content


def test_it_satisfies_the_contract():
    Calculator.check_contract()
    assert Calculator.parameters_schema()["required"] == ["expression"]
