"""Template transform: writes text from variables with a Jinja2 template (loops,
conditions, filters), e.g. a list an LLM returned as a Markdown table.

Settings: ``template`` (Jinja2) and ``variables``, which names what the template sees:
``{"items": "llm_1.structured"}`` makes ``{{ items }}`` that variable's value. Nothing
else is in scope.

Templates are written by app builders, but the values they render come from models and
callers, so rendering runs in Jinja2's ``ImmutableSandboxedEnvironment``: no access to
private or internal attributes (``''.__class__`` is refused), no mutation of the values,
bounded ``range``. Autoescape is off (the output is text, not HTML); an undefined name is an
error rather than an empty string. A syntax error is a settings error, found when the
workflow is saved; an unsafe access or an error while rendering fails the node.
"""

import re
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from pydantic import Field, field_validator, model_validator

from apps.applications.workflow.nodes.base import (
    Node,
    NodeContext,
    NodeResult,
    NodeSettings,
    Read,
    VarType,
)
from apps.applications.workflow.nodes.references import Reference

#: The longest output, in characters; a template that writes more fails the node.
OUTPUT_LIMIT = 100_000
ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

_ENVIRONMENT = ImmutableSandboxedEnvironment(
    autoescape=False, undefined=StrictUndefined, keep_trailing_newline=True
)


class TemplateTransformSettings(NodeSettings):
    template: str = Field(
        min_length=1, max_length=50_000, description="A Jinja2 template over the variables."
    )
    variables: dict[str, Reference] = Field(
        default_factory=dict,
        max_length=50,
        description="The names the template uses, each a variable: {name: node_id.output}.",
    )

    @field_validator("variables")
    @classmethod
    def _aliases(cls, variables: dict[str, str]) -> dict[str, str]:
        for alias in variables:
            if not ALIAS.match(alias):
                raise ValueError(f"'{alias}' is not a name a template can use")
        return variables

    @model_validator(mode="after")
    def _compiles(self) -> "TemplateTransformSettings":
        """A template that does not compile, or uses a name it was not given, is refused."""
        try:
            parsed = _ENVIRONMENT.parse(self.template)
        except TemplateSyntaxError as exc:
            raise ValueError(f"template: line {exc.lineno}: {exc.message}") from None
        unknown = sorted(meta.find_undeclared_variables(parsed) - set(self.variables))
        if unknown:
            raise ValueError(
                f"template: uses {', '.join(unknown)}, which variables does not name; add "
                "each to variables or rename it."
            )
        return self


class TemplateTransform(Node):
    type = "template_transform"
    Settings = TemplateTransformSettings

    def outputs(self, settings: TemplateTransformSettings) -> dict[str, VarType]:
        return {"output": "string"}

    def reads(self, settings: TemplateTransformSettings) -> list[Read]:
        return [
            Read(reference, "any", f"variables.{alias}")
            for alias, reference in settings.variables.items()
        ]

    def run(self, ctx: NodeContext, settings: TemplateTransformSettings) -> NodeResult:
        values: dict[str, Any] = {
            alias: ctx.value(reference) for alias, reference in settings.variables.items()
        }
        template = _ENVIRONMENT.from_string(settings.template)
        parts: list[str] = []
        size = 0
        try:
            # Streamed, so a runaway loop is stopped at the limit or the node's time limit.
            for part in template.generate(**values):
                size += len(part)
                if size > OUTPUT_LIMIT:
                    raise ctx.failed(f"the template wrote more than {OUTPUT_LIMIT:,} characters.")
                ctx.check()
                parts.append(part)
        except SecurityError as exc:
            raise ctx.failed(f"the template did something unsafe and was stopped: {exc}") from None
        except TemplateError as exc:
            raise ctx.failed(f"the template failed: {exc.message or exc}") from None
        except (ArithmeticError, TypeError, ValueError, LookupError) as exc:
            raise ctx.failed(f"the template failed: {type(exc).__name__}: {exc}") from None
        return NodeResult({"output": "".join(parts)})
