import uuid

from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models

from apps.accounts.models import Workspace
from apps.accounts.tenancy import WorkspaceOwned, user_reference

MODEL_NAME = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$",
    "Use letters, digits and . _ : / - (what SDKs send as `model`).",
)


#: The longest a workspace may keep a model's answers in the response cache: a week.
MAX_RESPONSE_CACHE_SECONDS = 7 * 24 * 3600


class EndpointCapability(models.TextChoices):
    CHAT = "chat", "Chat"
    EMBEDDING = "embedding", "Embedding"
    RERANK = "rerank", "Rerank"
    #: The model takes OpenAI-style function tools natively; agent apps on a chat model
    #: without it fall back to a ReAct prompt.
    TOOL_CALLS = "tool_calls", "Native tool calling"


class ModelEndpoint(models.Model):
    """One upstream model, reachable through a model-provider plugin.

    Platform-wide: a platform admin registers it once and grants it to workspaces. Tenants
    call it by ``name``; the provider is called with ``upstream_model``. The provider's
    settings (base URL, credentials) are stored like any plugin settings: secrets encrypted.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(
        max_length=100,
        unique=True,
        validators=[MODEL_NAME],
        help_text="The model name tenants send, e.g. qwen-plus.",
    )
    display_name = models.CharField(max_length=200, blank=True)
    provider = models.CharField(max_length=100, help_text="The model-provider plugin's id.")
    upstream_model = models.CharField(max_length=200, help_text="The model name at the provider.")
    capabilities = models.JSONField(default=list)
    settings = models.JSONField(default=dict, blank=True)
    encrypted_secrets = models.TextField(blank=True)
    context_window = models.PositiveIntegerField(null=True, blank=True)
    embedding_dimension = models.PositiveIntegerField(null=True, blank=True)
    default_parameters = models.JSONField(default=dict, blank=True)
    price_input_per_1k = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    price_output_per_1k = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class EndpointGrant(WorkspaceOwned):
    """A workspace may use an endpoint."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="model_grants")
    endpoint = models.ForeignKey(ModelEndpoint, on_delete=models.CASCADE, related_name="grants")
    is_default = models.BooleanField(
        default=False,
        help_text="The workspace's default model for this endpoint's first capability "
        "(e.g. the embedding model new knowledge bases use).",
    )
    response_cache_seconds = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(MAX_RESPONSE_CACHE_SECONDS)],
        help_text="How long the gateway answers this workspace's identical deterministic chat "
        "requests to this model from its response cache; 0: never (the default).",
    )
    granted_at = models.DateTimeField(auto_now_add=True)
    granted_by = user_reference()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "endpoint"], name="endpoints_one_grant")
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} for {self.workspace.slug}"


class Balancing(models.TextChoices):
    WEIGHTED = "weighted", "Weighted random"
    LEAST_BUSY = "least_busy", "Least busy"


class ModelGroup(models.Model):
    """Several endpoints behind one model name, balanced, with fallbacks.

    Platform-wide, like an endpoint: a platform admin defines it and grants it to
    workspaces, which call it by ``name`` on every surface. Each call goes to one member
    (``balancing``); on a 429, a 5xx, a timeout or an unreachable server (before a stream's
    first byte) it falls back to the next. A member that fails ``failures_to_cool_down``
    times within ``cooldown_seconds`` is left out for ``cooldown_seconds``.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(
        max_length=100,
        unique=True,
        validators=[MODEL_NAME],
        help_text="The model name tenants send; no endpoint may have it.",
    )
    display_name = models.CharField(max_length=200, blank=True)
    balancing = models.CharField(
        max_length=16, choices=Balancing.choices, default=Balancing.WEIGHTED
    )
    cooldown_seconds = models.PositiveIntegerField(default=60)
    failures_to_cool_down = models.PositiveIntegerField(default=3)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ModelGroupMember(models.Model):
    group = models.ForeignKey(ModelGroup, on_delete=models.CASCADE, related_name="members")
    endpoint = models.ForeignKey(
        ModelEndpoint, on_delete=models.CASCADE, related_name="group_memberships"
    )
    weight = models.PositiveIntegerField(default=1, help_text="Share of calls (weighted).")
    position = models.PositiveIntegerField(default=0, help_text="Order among the members.")

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["group", "endpoint"], name="endpoints_one_membership")
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} in {self.group}"


class ModelGroupGrant(WorkspaceOwned):
    """A workspace may call a model group."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="group_grants")
    group = models.ForeignKey(ModelGroup, on_delete=models.CASCADE, related_name="grants")
    response_cache_seconds = models.PositiveIntegerField(
        default=0, validators=[MaxValueValidator(MAX_RESPONSE_CACHE_SECONDS)]
    )
    granted_at = models.DateTimeField(auto_now_add=True)
    granted_by = user_reference()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "group"], name="endpoints_one_group_grant")
        ]

    def __str__(self) -> str:
        return f"{self.group} for {self.workspace.slug}"
