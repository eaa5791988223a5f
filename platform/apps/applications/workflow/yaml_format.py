"""A workflow app as a YAML document, to export and import (share a flow, keep it in git).

The document, version 1::

    ministudio_workflow: 1          # the format's version; a newer one is refused
    app:
      name: Support bot
      description: Answers from the handbook.
    workflow:                       # the definition, as stored (definition.WorkflowDefinition)
      format_version: 1
      max_steps: 100
      nodes: [{id, type, title, parent, position: {x, y}, timeout_seconds, data: {...}}]
      edges: [{id, source, target, source_handle}]

Only plain YAML is read and written (``yaml.safe_load`` / ``safe_dump``: no Python tags),
and a document is at most ``MAX_BYTES``. Loading checks the document's shape and the
definition's format; the importer checks the definition against the workspace
(``validation``) as a save does.
"""

from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from apps.applications.workflow.definition import FORMAT_VERSION, WorkflowDefinition
from kernel.errors import InvalidParameter

#: The version of the document's own shape (``ministudio_workflow``).
DOCUMENT_VERSION = 1
MAX_BYTES = 1_000_000


class YamlInvalid(InvalidParameter):
    code = "WorkflowYamlInvalid"


class _AppPart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=2000)


def dump(app: Any) -> str:
    """The document of a workflow app's draft."""
    return dump_definition(app.name, app.description, app.draft)


def dump_definition(name: str, description: str, definition: dict[str, Any]) -> str:
    """The document of one workflow (an app's draft, or a version's definition)."""
    document = {
        "ministudio_workflow": DOCUMENT_VERSION,
        "app": {"name": name, "description": description},
        "workflow": WorkflowDefinition.model_validate(definition).model_dump(mode="json"),
    }
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=100)


def load(text: str) -> tuple[str, str, dict[str, Any]]:
    """``(name, description, definition)`` from a document, or a 400 naming what is wrong."""
    if len(text.encode()) > MAX_BYTES:
        raise YamlInvalid(f"yaml: the document is larger than {MAX_BYTES // 1000} kB.")
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
        problem = getattr(exc, "problem", None) or "not YAML"
        raise YamlInvalid(f"yaml: cannot be read{at}: {problem}.") from None
    if not isinstance(document, dict):
        raise YamlInvalid("yaml: expected a mapping with ministudio_workflow, app and workflow.")
    version = document.get("ministudio_workflow")
    if isinstance(version, bool) or not isinstance(version, int):
        raise YamlInvalid("yaml: ministudio_workflow (the format's version) is missing.")
    if version > DOCUMENT_VERSION:
        raise YamlInvalid(
            f"yaml: ministudio_workflow {version} is newer than this platform reads "
            f"({DOCUMENT_VERSION}); upgrade the platform or export again from it."
        )
    if version < 1:
        raise YamlInvalid(f"yaml: ministudio_workflow {version} is not a version.")
    unknown = sorted(str(key) for key in set(document) - {"ministudio_workflow", "app", "workflow"})
    if unknown:
        raise YamlInvalid(f"yaml: unknown keys {', '.join(unknown)}.")
    try:
        app = _AppPart.model_validate(document.get("app") or {})
    except PydanticValidationError as exc:
        raise YamlInvalid(_first_error("app", exc)) from None
    workflow = document.get("workflow")
    if not isinstance(workflow, dict):
        raise YamlInvalid("yaml: workflow (the definition) is missing.")
    format_version = workflow.get("format_version", FORMAT_VERSION)
    if isinstance(format_version, int) and format_version > FORMAT_VERSION:
        raise YamlInvalid(
            f"yaml: workflow.format_version {format_version} is newer than this platform "
            f"reads ({FORMAT_VERSION})."
        )
    return app.name, app.description, workflow


def _first_error(prefix: str, exc: PydanticValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"yaml: {prefix}{'.' + where if where else ''}: {error['msg']}."
