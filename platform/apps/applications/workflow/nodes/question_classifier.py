"""Question classifier: one model call puts a text (the caller's prompt by default) into one
of the classes listed, and the run leaves by that class's handle.

Settings: ``model``, ``query`` (the variable classified), ``classes`` (two or more, each an
``id``, which is its handle, a ``name`` and an optional ``description``), ``instructions``
(a template added to the model's instructions).

The model is asked for JSON, ``{"class_id": "<id>"}``, with a schema allowing only the ids.
Models do not always comply, so a reply naming a class by its name (or by its id in another
case), as JSON or as bare text, is taken too. A reply naming no class falls back to the
LAST class, so put the catch-all ("other") last; ``fallback`` is then ``true`` in the
outputs and the trace, so such runs can be found. The call is never retried: a classifier
sits on the path of every run, and a second call would double its latency.
"""

import re
from typing import Any

from pydantic import Field, field_validator

from apps.applications.workflow.definition import NEXT
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

CLASS_ID = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"


class QuestionClass(NodeSettings):
    id: str = Field(pattern=CLASS_ID, description="The handle the run leaves by.")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=1_000, description="When a text is of this class.")


class QuestionClassifierSettings(NodeSettings):
    model: str = Field(
        "", max_length=100, description="A chat model of the workspace (validation asks for one)."
    )
    query: Reference = Field("sys.query", description="The variable classified (node_id.output).")
    classes: list[QuestionClass] = Field(
        min_length=2,
        max_length=20,
        description="The classes; a reply naming none falls back to the last one.",
    )
    instructions: str = Field(
        "", max_length=10_000, description="A template: more guidance for the model."
    )

    @field_validator("classes")
    @classmethod
    def _distinct(cls, classes: list[QuestionClass]) -> list[QuestionClass]:
        ids = [c.id.lower() for c in classes]
        names = [c.name.strip().lower() for c in classes]
        if len(ids) != len(set(ids)) or len(names) != len(set(names)):
            raise ValueError("each class id once and each name once (letter case aside)")
        if NEXT in ids:
            raise ValueError(f"'{NEXT}' cannot be a class id")
        return classes


def instructions(settings: QuestionClassifierSettings, extra: str) -> str:
    """The system prompt: the classes and the reply's format."""
    listed = "\n".join(
        f"- {c.id}: {c.name}" + (f" ({c.description})" if c.description else "")
        for c in settings.classes
    )
    text = (
        "Classify the user's message into exactly one of these classes "
        "(id: name):\n"
        f"{listed}\n\n"
        'Reply with JSON only: {"class_id": "<the id>"}.'
    )
    return f"{text}\n\n{extra}" if extra else text


def reply_schema(settings: QuestionClassifierSettings) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"class_id": {"type": "string", "enum": [c.id for c in settings.classes]}},
        "required": ["class_id"],
        "additionalProperties": False,
    }


def chosen(settings: QuestionClassifierSettings, reply: str) -> QuestionClass | None:
    """The class a reply names (see the module's docstring), or ``None``."""
    try:
        parsed = parse_json_reply(reply)
    except ValueError:
        parsed = reply
    if isinstance(parsed, dict):
        parsed = next(
            (parsed[key] for key in ("class_id", "class", "id", "name") if key in parsed), None
        )
    if not isinstance(parsed, str):
        return None
    said = re.sub(r"\s+", " ", parsed).strip().strip("\"'`.").lower()
    for field in ("id", "name"):
        for option in settings.classes:
            if said == getattr(option, field).strip().lower():
                return option
    return None


class QuestionClassifier(Node):
    type = "question_classifier"
    Settings = QuestionClassifierSettings

    def outputs(self, settings: QuestionClassifierSettings) -> dict[str, VarType]:
        return {"class_id": "string", "class_name": "string", "fallback": "boolean"}

    def reads(self, settings: QuestionClassifierSettings) -> list[Read]:
        return [
            Read(settings.query, "any", "query"),
            *template_reads(settings.instructions, "instructions"),
        ]

    def handles(self, settings: QuestionClassifierSettings) -> list[str]:
        return [c.id for c in settings.classes]

    def uses(self, settings: QuestionClassifierSettings) -> Uses:
        return Uses(models=[settings.model])

    def run(self, ctx: NodeContext, settings: QuestionClassifierSettings) -> NodeResult:
        query = as_text(ctx.value(settings.query))
        system = instructions(settings, ctx.render(settings.instructions).strip())
        reply = ctx.chat(
            settings.model,
            [ChatMessage(role="system", content=system), ChatMessage(role="user", content=query)],
            response_format=json_format(reply_schema(settings)),
            temperature=0,
        )
        found = chosen(settings, reply.text)
        option = found or settings.classes[-1]
        outputs = {"class_id": option.id, "class_name": option.name, "fallback": found is None}
        return NodeResult(outputs, branch=option.id)
