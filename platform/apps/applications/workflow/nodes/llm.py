"""LLM: one model call through the gateway, with a system prompt and a prompt written as
templates over the variables. With a JSON schema, the model is asked for JSON
(``response_format``) and the reply is parsed and checked against the schema into the
``structured`` output; a reply that does not fit fails the node."""

import json
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
    template_reads,
)
from plugins.base import ChatMessage


class LlmSettings(NodeSettings):
    model: str = Field("", max_length=100, description="A chat model of the workspace.")
    system_prompt: str = Field("", max_length=20_000, description="A template.")
    prompt: str = Field("{{ sys.query }}", min_length=1, max_length=50_000)
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, gt=0, le=32_768)
    json_schema: dict[str, Any] | None = Field(
        None, description="Structured output: the reply must be JSON of this schema."
    )

    @field_validator("json_schema")
    @classmethod
    def _valid_schema(cls, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        if schema is not None:
            try:
                jsonschema.Draft202012Validator.check_schema(schema)
            except jsonschema.SchemaError as exc:
                raise ValueError(f"not a JSON schema: {exc.message}") from None
        return schema


def parse_json_reply(text: str) -> Any:
    """The JSON a model wrote, allowing a Markdown code fence around it."""
    body = text.strip()
    if body.startswith("```"):
        body = body.split("\n", 1)[1] if "\n" in body else ""
        body = body.rsplit("```", 1)[0]
    return json.loads(body)


def structured_reply(ctx: NodeContext, text: str, schema: dict[str, Any]) -> Any:
    """The reply parsed and checked against ``schema``; the node fails when it does not fit."""
    try:
        value = parse_json_reply(text)
    except ValueError:
        raise ctx.failed(f"the model's reply is not JSON: {text[:200]!r}") from None
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(value), key=str)
    if errors:
        raise ctx.failed(f"the model's JSON does not fit the schema: {errors[0].message}")
    return value


def json_format(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's ``response_format`` asking for JSON of ``schema``."""
    return {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}


class Llm(Node):
    type = "llm"
    Settings = LlmSettings

    def outputs(self, settings: LlmSettings) -> dict[str, Any]:
        found = {"text": "string"}
        if settings.json_schema is not None:
            found["structured"] = "object"
        return found

    def reads(self, settings: LlmSettings) -> list[Read]:
        return template_reads(settings.system_prompt, "system_prompt") + template_reads(
            settings.prompt, "prompt"
        )

    def uses(self, settings: LlmSettings) -> Uses:
        return Uses(models=[settings.model])

    def run(self, ctx: NodeContext, settings: LlmSettings) -> NodeResult:
        messages = []
        if system := ctx.render(settings.system_prompt).strip():
            messages.append(ChatMessage(role="system", content=system))
        messages.append(ChatMessage(role="user", content=ctx.render(settings.prompt)))
        schema = settings.json_schema
        reply = ctx.chat(
            settings.model,
            messages,
            response_format=json_format(schema) if schema is not None else None,
            temperature=settings.temperature,
            max_tokens=settings.max_tokens,
        )
        outputs: dict[str, Any] = {"text": reply.text}
        if schema is not None:
            outputs["structured"] = structured_reply(ctx, reply.text, schema)
        return NodeResult(outputs)
