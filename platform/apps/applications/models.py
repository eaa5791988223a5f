"""Apps (应用): a draft configuration, the versions published from it, and what running
them leaves behind: conversation sessions, runs and their steps.

An app is an agent (``AppConfigSchema``: a model with tools and knowledge) or a workflow
(``workflow.definition.WorkflowDefinition``: nodes and edges); both run on one engine.

The app API always runs the latest published version; the playground runs the draft.
Rolling back copies an old version's configuration into the draft, to be published again,
so the history of versions only ever grows.
"""

import uuid

from django.db import models

from apps.accounts.models import ApiKey, Workspace
from apps.accounts.tenancy import Audited, WorkspaceOwned, user_reference


class AppKind(models.TextChoices):
    AGENT = "agent", "Agent"
    WORKFLOW = "workflow", "Workflow"


class AgentApp(WorkspaceOwned, Audited):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="agent_apps")
    kind = models.CharField(max_length=16, choices=AppKind.choices, default=AppKind.AGENT)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    draft = models.JSONField(
        default=dict,
        help_text="An agent's AppConfigSchema, or a workflow's WorkflowDefinition.",
    )

    class Meta:
        ordering = ["-updated_at"]
        verbose_name = "app"

    def __str__(self) -> str:
        return self.name


class AppVersion(WorkspaceOwned):
    """An immutable snapshot of an app's configuration, taken when it was published."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    app = models.ForeignKey(AgentApp, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    config = models.JSONField()
    notes = models.TextField(blank=True)
    published_by = user_reference()
    published_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        verbose_name = "app version"
        constraints = [
            models.UniqueConstraint(fields=["app", "number"], name="agents_one_version_number")
        ]

    def __str__(self) -> str:
        return f"{self.app} v{self.number}"


class Session(WorkspaceOwned):
    """A conversation's server-side history (DashScope's ``session_id``).

    Holds the last ``memory_rounds`` exchanges of the app's configuration; forgotten after
    ``AGENT_SESSION_IDLE_SECONDS`` without a call.
    """

    id = models.CharField(primary_key=True, max_length=64, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    app = models.ForeignKey(AgentApp, on_delete=models.CASCADE, related_name="sessions")
    messages = models.JSONField(default=list, help_text='[{"role": ..., "content": ...}]')
    created_at = models.DateTimeField(auto_now_add=True)
    last_active_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-last_active_at"]

    def __str__(self) -> str:
        return self.id


class RunStatus(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled by the client"
    WAITING = "waiting", "Paused at a human-input node"


class RunSurface(models.TextChoices):
    DASHSCOPE = "dashscope", "DashScope app API"
    OPENAI = "openai", "OpenAI-compatible API"
    PLAYGROUND = "playground", "Console playground"
    MCP = "mcp", "MCP server (/mcp)"


class Run(WorkspaceOwned):
    """One call of an app: what was asked, what came back, and the steps in between.

    Written when the run ends (so a run costs no database write before its first answer).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    app = models.ForeignKey(AgentApp, on_delete=models.CASCADE, related_name="runs")
    # Not a foreign key: a sub-run ends, and is written, before the run that called it.
    parent_run_id = models.UUIDField(
        null=True, blank=True, db_index=True, help_text="The run that called this app as a tool."
    )
    version = models.ForeignKey(
        AppVersion,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty for a playground run of the draft.",
    )
    session_id = models.CharField(max_length=64, blank=True, db_index=True)
    surface = models.CharField(max_length=16, choices=RunSurface.choices)
    api_key = models.ForeignKey(
        ApiKey, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    user = user_reference()
    status = models.CharField(max_length=16, choices=RunStatus.choices)
    prompt = models.TextField(blank=True)
    answer = models.TextField(blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    first_token_ms = models.PositiveIntegerField(null=True, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField()

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["app", "started_at"])]

    def __str__(self) -> str:
        return f"{self.app} {self.status} {self.started_at:%Y-%m-%d %H:%M}"


class StepKind(models.TextChoices):
    RETRIEVAL = "retrieval", "Knowledge retrieval"
    MODEL = "model", "Model call"
    TOOL = "tool", "Tool call"
    NODE = "node", "Workflow node"


class Step(models.Model):
    """One thing a run did, in order: a retrieval, a model call, a tool call, or a workflow
    node (whose own model calls and retrievals follow it, with its ``node_id``)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    index = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=StepKind.choices)
    node_id = models.CharField(max_length=64, blank=True, help_text="The workflow node.")
    name = models.CharField(max_length=200, help_text="The model, tool or knowledge search.")
    input = models.JSONField(default=dict)
    output = models.JSONField(default=dict)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["index"]
        constraints = [
            models.UniqueConstraint(fields=["run", "index"], name="agents_one_step_index")
        ]

    def __str__(self) -> str:
        return f"{self.run_id} #{self.index} {self.kind} {self.name}"
