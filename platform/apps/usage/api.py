"""Console API: a workspace's usage by day, model or API key, with totals."""

from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status

from apps.accounts.context import require_platform_admin, workspace_context
from apps.accounts.models import Workspace
from apps.accounts.permissions import Permission
from apps.model_endpoints.models import ModelEndpoint
from apps.usage.models import Quota
from apps.usage.selectors import quota_consumption, usage_summary
from apps.usage.services import flush_usage
from kernel.errors import Conflict, InvalidParameter, NotFound

router = Router(tags=["usage"])
MAX_DAYS = 366


class UsageRowOut(Schema):
    key: str
    label: str | None = Field(
        default=None, description="With group_by=app: the app's name (key is its id)."
    )
    requests: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost: Decimal


class UsageOut(Schema):
    start: date
    end: date
    group_by: str
    rows: list[UsageRowOut]
    totals: UsageRowOut


@router.get("/usage", response=UsageOut)
def usage(
    request: HttpRequest,
    start: date | None = None,
    end: date | None = None,
    group_by: Literal["day", "model", "api_key", "app", "batch"] = "day",
):
    """Usage between ``start`` and ``end`` (UTC days, inclusive; default the last 30).
    ``group_by=app`` groups by the agent app whose run made the call (``(no app)``: the rest);
    ``group_by=batch`` by the batch whose line made it (``(no batch)``: real-time calls)."""
    ctx = workspace_context(request)
    ctx.require(Permission.USE_MODELS)
    end = end or timezone.now().date()
    start = start or end - timedelta(days=29)
    if start > end:
        raise InvalidParameter("start: must not be after end.")
    if (end - start).days >= MAX_DAYS:
        raise InvalidParameter(f"start: ask for at most {MAX_DAYS} days at a time.")
    flush_usage()  # what was buffered a moment ago counts too
    rows, totals = usage_summary(ctx.workspace, start=start, end=end, group_by=group_by)
    return {"start": start, "end": end, "group_by": group_by, "rows": rows, "totals": totals}


class LimitUsageOut(Schema):
    name: str = Field(description="requests_per_minute, tokens_per_minute, tokens_per_day, ...")
    limit: int
    used: int | None = Field(description="Counted right now; null when Redis is unreachable.")


class QuotaUsageOut(Schema):
    id: int
    model: str | None = Field(description="The endpoint's name; null = all models.")
    limits: list[LimitUsageOut]

    @staticmethod
    def resolve_id(row) -> int:
        return row.quota.pk

    @staticmethod
    def resolve_model(row) -> str | None:
        return row.quota.endpoint.name if row.quota.endpoint_id else None


@router.get("/usage/quotas", response=list[QuotaUsageOut])
def usage_quotas(request: HttpRequest):
    """The quotas that bind this workspace, each limit with its current consumption."""
    ctx = workspace_context(request)
    ctx.require(Permission.USE_MODELS)
    return quota_consumption(ctx.workspace)


# --- quotas (platform admins) ---------------------------------------------------------------------

LIMITS = (
    "requests_per_minute",
    "tokens_per_minute",
    "tokens_per_day",
    "tokens_per_month",
    "concurrent_requests",
)


class QuotaOut(Schema):
    id: int
    workspace: str
    model: str | None = Field(description="The endpoint's name; null = all models.")
    requests_per_minute: int | None
    tokens_per_minute: int | None
    tokens_per_day: int | None
    tokens_per_month: int | None
    concurrent_requests: int | None

    @staticmethod
    def resolve_workspace(quota: Quota) -> str:
        return quota.workspace.slug

    @staticmethod
    def resolve_model(quota: Quota) -> str | None:
        return quota.endpoint.name if quota.endpoint_id else None


# The largest limit each column holds (Postgres integer and bigint): a larger one is a 400,
# not a database error.
INTEGER_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1


class QuotaLimitsIn(Schema):
    requests_per_minute: int | None = Field(default=None, ge=0, le=INTEGER_MAX)
    tokens_per_minute: int | None = Field(default=None, ge=0, le=INTEGER_MAX)
    tokens_per_day: int | None = Field(default=None, ge=0, le=BIGINT_MAX)
    tokens_per_month: int | None = Field(default=None, ge=0, le=BIGINT_MAX)
    concurrent_requests: int | None = Field(default=None, ge=0, le=INTEGER_MAX)


class QuotaIn(QuotaLimitsIn):
    workspace: str = Field(min_length=1, max_length=50)
    model: str | None = None


def _quota(quota_id: str) -> Quota:
    try:
        return Quota.objects.select_related("workspace", "endpoint").get(pk=quota_id)
    except (Quota.DoesNotExist, ValueError, DjangoValidationError):
        raise NotFound("Quota not found.") from None


@router.get("/quotas", response=list[QuotaOut], tags=["quotas"])
def list_quotas(request: HttpRequest, workspace: str | None = None):
    require_platform_admin(request)
    quotas = Quota.objects.select_related("workspace", "endpoint").order_by("workspace__slug", "id")
    if workspace:
        quotas = quotas.filter(workspace__slug=workspace)
    return quotas


@router.post("/quotas", response={201: QuotaOut}, tags=["quotas"])
def create_quota(request: HttpRequest, payload: QuotaIn):
    """Limit a workspace's calls, for all its models or one (platform admins)."""
    require_platform_admin(request)
    workspace = Workspace.objects.filter(slug=payload.workspace).first()
    if workspace is None:
        raise NotFound(f"Workspace '{payload.workspace}' not found.")
    endpoint = None
    if payload.model is not None:
        endpoint = ModelEndpoint.objects.filter(name=payload.model).first()
        if endpoint is None:
            raise InvalidParameter(f"model: no model endpoint is named '{payload.model}'.")
    limits = payload.model_dump(include=set(LIMITS))
    if all(value is None for value in limits.values()):
        raise InvalidParameter("Give at least one limit.")
    try:
        quota = Quota.objects.create(workspace=workspace, endpoint=endpoint, **limits)
    except IntegrityError:
        raise Conflict("That workspace already has a quota for this scope; edit it.") from None
    return Status(201, quota)


@router.patch("/quotas/{quota_id}", response=QuotaOut, tags=["quotas"])
def update_quota(request: HttpRequest, quota_id: str, payload: QuotaLimitsIn):
    """Change limits; send a limit as null to lift it. Effective on the next call."""
    require_platform_admin(request)
    quota = _quota(quota_id)
    for name, value in payload.model_dump(exclude_unset=True).items():
        setattr(quota, name, value)
    quota.save()
    return quota


@router.delete("/quotas/{quota_id}", response={204: None}, tags=["quotas"])
def delete_quota(request: HttpRequest, quota_id: str):
    require_platform_admin(request)
    _quota(quota_id).delete()
    return Status(204, None)
