import uuid
from datetime import datetime
from typing import Any

from ninja import Field, Schema

from apps.applications.models import RunStatus


class AppCreateIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=2000)
    draft: dict[str, Any] | None = Field(
        None,
        description="The configuration (AppConfigSchema); defaults, with the default chat model.",
    )


class AppUpdateIn(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=2000)


class AppOut(Schema):
    id: uuid.UUID
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
    session_id: str | None = Field(None, max_length=64)
    variables: dict[str, Any] = Field(default_factory=dict)
    stream: bool = True


class SessionOut(Schema):
    id: str
    messages: list[dict[str, Any]]
    created_at: datetime
    last_active_at: datetime


class StepOut(Schema):
    index: int
    kind: str
    name: str
    input: dict[str, Any]
    output: dict[str, Any]
    input_tokens: int
    output_tokens: int
    latency_ms: int
    error: str


class RunOut(Schema):
    id: uuid.UUID
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

    @staticmethod
    def resolve_steps(run) -> list:
        return list(run.steps.all())
