from django.db import models

from apps.accounts.models import ApiKey, Workspace
from apps.accounts.tenancy import WorkspaceOwned
from apps.model_endpoints.models import ModelEndpoint


class CallStatus(models.TextChoices):
    OK = "ok", "OK"
    ERROR = "error", "Error"
    CANCELLED = "cancelled", "Cancelled by the client"


class UsageRecord(WorkspaceOwned):
    """One gateway call: who, which model, how many tokens, how long, what it cost.

    Written in batches off the hot path (see ``apps.usage.recorder``). The endpoint and
    key are kept by name too, so the ledger survives their deletion.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="usage")
    api_key = models.ForeignKey(ApiKey, on_delete=models.SET_NULL, null=True, related_name="+")
    endpoint = models.ForeignKey(
        ModelEndpoint, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    model = models.CharField(max_length=100, help_text="The endpoint's name at call time.")
    surface = models.CharField(max_length=16, help_text="openai, dashscope, console or batch")
    capability = models.CharField(max_length=16)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    tokens_counted_locally = models.BooleanField(
        default=False, help_text="The upstream gave no usage; a local tokenizer counted."
    )
    latency_ms = models.PositiveIntegerField(default=0)
    time_to_first_token_ms = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=CallStatus.choices)
    error_code = models.CharField(max_length=64, blank=True)
    cost = models.DecimalField(max_digits=16, decimal_places=8, default=0)
    request_id = models.CharField(max_length=128, blank=True)
    app_id = models.UUIDField(
        null=True, blank=True, help_text="The agent app whose run made the call, if any."
    )
    batch_id = models.CharField(
        max_length=40, blank=True, help_text="The batch whose line made the call, if any."
    )
    app_node = models.CharField(
        max_length=64,
        blank=True,
        help_text="The workflow node (of the app in app_id) whose run made the call, if any.",
    )
    cache_hit = models.BooleanField(
        default=False,
        help_text="Answered from the response cache: no upstream call, no cost, no tokens "
        "against the quotas (the tokens are those of the answer it replayed).",
    )
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "created_at"])]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.model} {self.status} {self.input_tokens}+{self.output_tokens}"


class DailyUsage(WorkspaceOwned):
    """Per workspace, day (UTC), model and key: the sums of the ledger, kept as it is written."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="daily_usage")
    day = models.DateField()
    model = models.CharField(max_length=100)
    api_key = models.ForeignKey(ApiKey, on_delete=models.SET_NULL, null=True, related_name="+")
    requests = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    cache_hits = models.PositiveIntegerField(
        default=0, help_text="Requests answered from the response cache."
    )
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=18, decimal_places=8, default=0)

    class Meta:
        verbose_name_plural = "daily usage"
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "day", "model", "api_key"],
                name="usage_one_daily_row",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"{self.workspace_id} {self.day} {self.model}"


class Quota(WorkspaceOwned):
    """Limits on a workspace's gateway calls: for all its models (``endpoint`` empty), or for
    one model. Every limit is optional; a call must pass all that apply."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="quotas")
    endpoint = models.ForeignKey(
        ModelEndpoint, on_delete=models.CASCADE, null=True, blank=True, related_name="quotas"
    )
    requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    tokens_per_minute = models.PositiveIntegerField(null=True, blank=True)
    tokens_per_day = models.PositiveBigIntegerField(null=True, blank=True)
    tokens_per_month = models.PositiveBigIntegerField(null=True, blank=True)
    concurrent_requests = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "endpoint"],
                name="usage_one_quota_per_scope",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"quota of {self.workspace.slug}" + (f" on {self.endpoint}" if self.endpoint else "")

    @property
    def scope(self) -> str:
        model = f"model '{self.endpoint.name}'" if self.endpoint_id else "all models"
        return f"workspace '{self.workspace.slug}', {model}"
