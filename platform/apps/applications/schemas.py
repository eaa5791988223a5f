import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import TypeAdapter

from apps.applications.config import AppConfigSchema
from apps.applications.models import RunStatus
from apps.applications.workflow.definition import WorkflowDefinition


class _AgentOrWorkflow:
    """Documents a draft as either kind's schema; the app's kind picks which one checks it
    (so a workflow's errors name its nodes, not a union's members)."""

    _either = TypeAdapter(AppConfigSchema | WorkflowDefinition)

    @classmethod
    def __get_pydantic_json_schema__(cls, _core_schema, handler):
        return handler(cls._either.core_schema)


#: ``PUT /apps/{id}/draft``'s body: an agent's AppConfigSchema or a workflow's definition.
DraftIn = Annotated[dict[str, Any], _AgentOrWorkflow]


class AppCreateIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=2000)
    kind: Literal["agent", "workflow"] = "agent"
    draft: dict[str, Any] | None = Field(
        None,
        description="An agent's configuration (AppConfigSchema; defaults, with the default chat "
        "model) or a workflow's definition (WorkflowDefinition; checked).",
    )
    template: str | None = Field(
        None,
        max_length=64,
        description="A workflow template's id (GET /workflow/templates); a workflow app "
        "without draft or template starts as a start joined to an end.",
    )


class AppUpdateIn(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=2000)


class AppOut(Schema):
    id: uuid.UUID
    kind: Literal["agent", "workflow"]
    name: str
    description: str
    draft: dict[str, Any]
    published_version: int | None
    version_count: int
    created_at: datetime
    updated_at: datetime


class PublishIn(Schema):
    notes: str = Field("", max_length=5000, description="Release notes.")


class VersionOut(Schema):
    number: int
    notes: str
    config: dict[str, Any]
    published_by: str | None
    published_at: datetime


class ChangeOut(Schema):
    path: str
    before: Any = None
    after: Any = None


class DiffOut(Schema):
    base: str
    target: str
    changes: list[ChangeOut]


class PlaygroundIn(Schema):
    prompt: str | None = Field(None, max_length=100_000)
    messages: list[dict[str, Any]] | None = None
    session_id: str | None = Field(
        None, max_length=64, description="A workflow's paused run to answer with the prompt."
    )
    variables: dict[str, Any] = Field(
        default_factory=dict,
        description="An agent's prompt variables, or a workflow's start node inputs.",
    )
    stream: bool = True


class SessionOut(Schema):
    id: str
    messages: list[dict[str, Any]]
    created_at: datetime
    last_active_at: datetime


class StepOut(Schema):
    index: int
    kind: str
    node_id: str
    name: str
    input: dict[str, Any]
    output: dict[str, Any]
    input_tokens: int
    output_tokens: int
    latency_ms: int
    error: str


class RunOut(Schema):
    id: uuid.UUID
    app_id: uuid.UUID
    parent_run_id: uuid.UUID | None
    version: int | None
    session_id: str
    surface: str
    status: RunStatus
    prompt: str
    answer: str
    error_code: str
    error_message: str
    input_tokens: int
    output_tokens: int
    latency_ms: int
    first_token_ms: int | None
    request_id: str
    started_at: datetime
    finished_at: datetime

    @staticmethod
    def resolve_version(run) -> int | None:
        return run.version.number if run.version else None


class RunDetailOut(RunOut):
    steps: list[StepOut]
    children: list[RunOut] = Field(
        description="The runs this run started (an app it called), each with its own detail."
    )

    @staticmethod
    def resolve_steps(run) -> list:
        return list(run.steps.all())

    @staticmethod
    def resolve_children(run) -> list:
        return list(getattr(run, "children", []))


# --- workflows ----------------------------------------------------------------------------------


class ProblemOut(Schema):
    node_id: str | None
    setting: str | None
    message: str


class WorkflowCheckOut(Schema):
    problems: list[ProblemOut]
    variables: dict[str, dict[str, str]] = Field(
        description="What each node produces, by node id then output name, with its type."
    )


class NodeTypeOut(Schema):
    type: str
    settings_schema: dict[str, Any]


class TemplateOut(Schema):
    id: str
    name: str
    description: str
    definition: dict[str, Any]


class ImportIn(Schema):
    yaml: str = Field(min_length=1, max_length=1_000_000)
    name: str | None = Field(None, min_length=1, max_length=100)
