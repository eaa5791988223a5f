"""Arithmetic for agents, by parsing, never ``eval``.

The expression is parsed with ``ast`` and walked node by node; only numbers, the four
operations, ``//``, ``%``, ``**``, parentheses and a fixed list of math functions and
constants are allowed. Exponents and results are bounded, so ``9**9**9`` is refused
instead of eating the CPU.
"""

import ast
import math
import operator
from collections.abc import Callable

from pydantic import BaseModel, Field

from plugins.base import PluginSettings, Tool, ToolContext, ToolResult

MAX_EXPRESSION_LENGTH = 500
MAX_EXPONENT = 1000
MAX_MAGNITUDE = 1e300

_BINARY: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[float], float]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS: dict[str, Callable[..., float]] = {
    "sqrt": math.sqrt,
    "abs": abs,
    "round": round,
    "floor": math.floor,
    "ceil": math.ceil,
    "exp": math.exp,
    "log": math.log,
    "log10": math.log10,
    "log2": math.log2,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
    "min": min,
    "max": max,
}
_CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau}
# What people type for powers, times and divide; "^" is power here, as in most calculators.
_OPERATOR_ALIASES = str.maketrans({"^": "**", "\u00d7": "*", "\u00f7": "/"})


class CalculationError(ValueError):
    pass


def evaluate(expression: str) -> float | int:
    """The value of an arithmetic expression, or ``CalculationError`` saying why not."""
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise CalculationError(f"expression is longer than {MAX_EXPRESSION_LENGTH} characters")
    try:
        tree = ast.parse(expression.translate(_OPERATOR_ALIASES), mode="eval")
    except SyntaxError:
        raise CalculationError("not an arithmetic expression") from None
    try:
        value = _walk(tree.body)
    except ZeroDivisionError:
        raise CalculationError("division by zero") from None
    except OverflowError:
        raise CalculationError("the result is too large") from None
    except (TypeError, ValueError) as exc:
        raise CalculationError(str(exc)) from None
    if (isinstance(value, float) and not math.isfinite(value)) or abs(value) > MAX_MAGNITUDE:
        raise CalculationError("the result is too large")
    return value


def _walk(node: ast.AST) -> float | int:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_walk(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _walk(node.left), _walk(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise CalculationError(f"exponents are limited to ±{MAX_EXPONENT}")
        result = _BINARY[type(node.op)](left, right)
        if isinstance(result, complex):
            raise CalculationError("the result is not a real number")
        if abs(result) > MAX_MAGNITUDE:
            raise CalculationError("the result is too large")
        return result
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        return _FUNCTIONS[node.func.id](*(_walk(arg) for arg in node.args))
    if isinstance(node, ast.Name):
        raise CalculationError(f"unknown name '{node.id}'")
    raise CalculationError(f"'{ast.unparse(node)}' is not allowed in an arithmetic expression")


class CalculatorArguments(BaseModel):
    expression: str = Field(
        description="An arithmetic expression, e.g. '(3 + 4) * 2 ** 0.5' or 'sqrt(2) * pi'.",
        min_length=1,
        max_length=MAX_EXPRESSION_LENGTH,
    )


class Calculator(Tool):
    display_name = "Calculator"
    description = (
        "Evaluates an arithmetic expression exactly as written: + - * / // % ** (or ^), "
        "parentheses, sqrt, log, exp, trigonometry, min, max, round, pi and e."
    )
    Arguments = CalculatorArguments
    Settings = PluginSettings
    timeout_seconds = 2.0
    enabled_by_default = True

    def invoke(self, arguments: CalculatorArguments, context: ToolContext) -> ToolResult:
        try:
            value = evaluate(arguments.expression)
        except CalculationError as exc:
            return ToolResult(content=f"Cannot calculate: {exc}.", is_error=True)
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            value = int(value)
        return ToolResult(content=str(value), data={"value": value})
