"""Files and batch jobs, as OpenAI's (and Bailian's) Batch API names them.

A ``BatchFile`` is an uploaded JSONL input (``purpose="batch"``) or a file a batch wrote
(``purpose="batch_output"``: its output and error files). A ``Batch`` runs every line of an
input file against one endpoint (``/v1/chat/completions`` or ``/v1/embeddings``); each line's
answer is kept as a ``BatchResult`` the moment it arrives, which is the checkpoint a resumed
batch starts from and what its output and error files are written from.
"""

import uuid

from django.conf import settings
from django.db import models

from apps.accounts.models import ApiKey
from apps.accounts.tenancy import WorkspaceOwned
from apps.model_endpoints.models import ModelEndpoint


def new_file_id() -> str:
    return f"file-{uuid.uuid4().hex}"


def new_batch_id() -> str:
    return f"batch_{uuid.uuid4().hex}"


class FilePurpose(models.TextChoices):
    BATCH = "batch", "Batch input"
    BATCH_OUTPUT = "batch_output", "Batch output"


class BatchFile(WorkspaceOwned):
    id = models.CharField(primary_key=True, max_length=40, default=new_file_id, editable=False)
    filename = models.CharField(max_length=255)
    purpose = models.CharField(max_length=16, choices=FilePurpose.choices)
    bytes = models.PositiveBigIntegerField()
    line_count = models.PositiveIntegerField(help_text="Non-empty lines.")
    storage_key = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "file"

    def __str__(self) -> str:
        return f"{self.id} {self.filename}"


class BatchStatus(models.TextChoices):
    VALIDATING = "validating", "Validating"
    IN_PROGRESS = "in_progress", "In progress"
    FINALIZING = "finalizing", "Finalizing"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"
    CANCELLING = "cancelling", "Cancelling"
    CANCELLED = "cancelled", "Cancelled"


#: Statuses in which a worker still has something to do.
UNFINISHED = (
    BatchStatus.VALIDATING,
    BatchStatus.IN_PROGRESS,
    BatchStatus.FINALIZING,
    BatchStatus.CANCELLING,
)


class BatchEndpoint(models.TextChoices):
    CHAT = "/v1/chat/completions", "Chat completions"
    EMBEDDINGS = "/v1/embeddings", "Embeddings"


class BatchEngine(models.TextChoices):
    HTTP = "http", "Through the gateway"
    VLLM = "vllm", "In-process vLLM engine"


class Batch(WorkspaceOwned):
    id = models.CharField(primary_key=True, max_length=40, default=new_batch_id, editable=False)
    # No database constraint: a finished batch keeps naming its files after they are deleted,
    # as OpenAI's do.
    input_file = models.ForeignKey(
        BatchFile, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    output_file = models.ForeignKey(
        BatchFile,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    error_file = models.ForeignKey(
        BatchFile,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    endpoint = models.CharField(max_length=32, choices=BatchEndpoint.choices)
    completion_window = models.CharField(max_length=8)
    metadata = models.JSONField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=BatchStatus.choices, default=BatchStatus.VALIDATING
    )
    errors = models.JSONField(
        null=True, blank=True, help_text="Why validation failed: [{code, message, param, line}]."
    )
    model = models.CharField(max_length=100, blank=True, help_text="The model every line names.")
    model_endpoint = models.ForeignKey(
        ModelEndpoint, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    engine = models.CharField(max_length=8, choices=BatchEngine.choices, default=BatchEngine.HTTP)
    total = models.PositiveIntegerField(default=0)
    completed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    #: Who asked: an API key (the OpenAI surface) or a person (the console).
    api_key = models.ForeignKey(ApiKey, on_delete=models.SET_NULL, null=True, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    expires_at = models.DateTimeField()
    in_progress_at = models.DateTimeField(null=True, blank=True)
    finalizing_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    cancelling_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # The worker running the batch holds a lease it renews as it checkpoints; a lapsed
    # lease is a dead worker's, and the sweep hands the batch to another.
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Times a worker took it up.")

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "batches"
        indexes = [models.Index(fields=["status", "lease_expires_at"])]

    def __str__(self) -> str:
        return f"{self.id} {self.status}"


class BatchResult(models.Model):
    """The answer to one line of a batch's input file (read through its batch only)."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="results")
    line = models.PositiveIntegerField(help_text="1-based line number in the input file.")
    custom_id = models.CharField(max_length=512)
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField()
    request_id = models.CharField(max_length=64)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["batch", "line"], name="batch_result_once_per_line")
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}:{self.line} {self.status_code}"
