"""Parameter extractor: one model call reads a text (the caller's prompt by default) and
fills in named, typed parameters, each an output of the node: ``{{ extract.city }}``.

Settings: ``model``, ``query`` (the variable read), ``parameters`` (a JSON schema of type
object: each property is a parameter, its ``type`` the output's type, ``required`` those
the text must give; an optional one it does not give is null) and ``instructions`` (a
template added to the model's instructions).

The model is asked for JSON of the schema (``response_format``); the reply is parsed and
checked with ``jsonschema``. A reply that is not JSON or does not fit is sent back once,
with what was wrong, for the model to correct; a second miss fails the node with the
schema's complaint. Keys the schema does not name are dropped.
"""

import json
import re
from typing import Any

import jsonschema
from pydantic import Field, field_validator

from apps.applications.workflow.nodes.base import (
    Node,
    NodeContext,
    NodeResult,
    NodeSettings,
    Read,
    Uses,
    VarType,
    as_text,
    template_reads,
)
from apps.applications.workflow.nodes.llm import json_format, parse_json_reply
from apps.applications.workflow.nodes.references import Reference
from plugins.base import ChatMessage

#: JSON schema types and the variable types their values are.
_OUTPUT_TYPES: dict[str, VarType] = {
    "string": "string",
    "number": "number",
    "integer": "number",
    "boolean": "boolean",
    "object": "object",
    "array": "array",
}
#: A parameter's name: an output's name, so templates can write ``{{ node_id.name }}``.
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class ParameterExtractorSettings(NodeSettings):
    model: str = Field(
        "", max_length=100, description="A chat model of the workspace (validation asks for one)."
    )
    query: Reference = Field("sys.query", description="The variable read (node_id.output).")
    parameters: dict[str, Any] = Field(
        description='A JSON schema: {"type": "object", "properties": {...}, "required": [...]}.'
    )
    instructions: str = Field(
        "", max_length=10_000, description="A template: more guidance for the model."
    )

    @field_validator("parameters")
    @classmethod
    def _object_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise ValueError(f"not a JSON schema: {exc.message}") from None
        properties = schema.get("properties")
        if schema.get("type") != "object" or not isinstance(properties, dict) or not properties:
            raise ValueError('a schema of "type": "object" with at least one property')
        for name, spec in properties.items():
            if not _NAME.match(name):
                raise ValueError(f"'{name}' cannot name an output (letters, digits, _)")
            kind = spec.get("type") if isinstance(spec, dict) else None
            if kind is not None and (not isinstance(kind, str) or kind not in _OUTPUT_TYPES):
                raise ValueError(
                    f"{name}: type must be one of {', '.join(_OUTPUT_TYPES)} (or left out)"
                )
        return schema


def output_type(spec: Any) -> VarType:
    """The variable type of a property's values ("integer" is a number; no type: any)."""
    kind = spec.get("type") if isinstance(spec, dict) else None
    return _OUTPUT_TYPES.get(kind, "any") if isinstance(kind, str) else "any"


def problem(text: str, schema: dict[str, Any]) -> tuple[Any, str | None]:
    """The reply parsed, and what is wrong with it (``None`` when it fits)."""
    try:
        value = parse_json_reply(text)
    except ValueError as exc:
        return None, f"the reply is not JSON ({exc})"
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(value), key=str)
    if errors:
        where = "/".join(str(part) for part in errors[0].absolute_path)
        return value, f"{where + ': ' if where else ''}{errors[0].message}"
    return value, None


def instructions(settings: ParameterExtractorSettings, extra: str) -> str:
    schema = json.dumps(settings.parameters, ensure_ascii=False)
    text = (
        "Extract the parameters this JSON schema describes from the user's message. Reply "
        "with one JSON object that fits the schema and nothing else; leave out a parameter "
        f"the message does not give unless it is required.\n\nSchema: {schema}"
    )
    return f"{text}\n\n{extra}" if extra else text


class ParameterExtractor(Node):
    type = "parameter_extractor"
    Settings = ParameterExtractorSettings

    def outputs(self, settings: ParameterExtractorSettings) -> dict[str, VarType]:
        return {
            name: _OUTPUT_TYPES.get(spec.get("type", ""), "any")
            if isinstance(spec, dict)
            else "any"
            for name, spec in settings.parameters["properties"].items()
        }

    def reads(self, settings: ParameterExtractorSettings) -> list[Read]:
        return [
            Read(settings.query, "any", "query"),
            *template_reads(settings.instructions, "instructions"),
        ]

    def uses(self, settings: ParameterExtractorSettings) -> Uses:
        return Uses(models=[settings.model])

    def run(self, ctx: NodeContext, settings: ParameterExtractorSettings) -> NodeResult:
        schema = settings.parameters
        messages = [
            ChatMessage(
                role="system",
                content=instructions(settings, ctx.render(settings.instructions).strip()),
            ),
            ChatMessage(role="user", content=as_text(ctx.value(settings.query))),
        ]
        for attempt in (1, 2):
            reply = ctx.chat(settings.model, messages, response_format=json_format(schema))
            value, wrong = problem(reply.text, schema)
            if wrong is None:
                return NodeResult({name: value.get(name) for name in schema["properties"]})
            if attempt == 1:
                messages += [
                    ChatMessage(role="assistant", content=reply.text),
                    ChatMessage(
                        role="user",
                        content=f"That reply does not fit the schema: {wrong}. Reply again "
                        "with only the corrected JSON object.",
                    ),
                ]
        raise ctx.failed(f"the model's reply does not fit the parameters' schema: {wrong}")
