"""Console API: a workspace's usage by day, model or API key, with totals; its quotas'
standing; and the quotas platform admins set (``/quotas``)."""

from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status

from apps.accounts.context import require_platform_admin, workspace_context
from apps.accounts.permissions import Permission
from apps.accounts.selectors import get_workspace_for_user
from apps.model_endpoints.selectors import endpoint_named
from apps.usage import quota_services
from apps.usage.models import Quota
from apps.usage.selectors import all_quotas, quota_consumption, quota_with_id, usage_summary
from apps.usage.services import flush_usage
from kernel.errors import InvalidParameter, NotFound

router = Router(tags=["usage"])
MAX_DAYS = 366


class UsageRowOut(Schema):
    key: str
    label: str | None = Field(
        default=None, description="With group_by=app: the app's name (key is its id)."
    )
    requests: int
    errors: int
    cache_hits: int = Field(description="Requests answered from the response cache.")
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


@router.get("/quotas/usage", response=list[QuotaUsageOut], tags=["quotas"])
def quota_usage(request: HttpRequest):
    """The quotas that bind this workspace, each limit with its current consumption (any
    member)."""
    ctx = workspace_context(request)
    ctx.require(Permission.USE_MODELS)
    return quota_consumption(ctx.workspace)


@router.get("/usage/quotas", response=list[QuotaUsageOut], deprecated=True)
def usage_quotas(request: HttpRequest):
    """Deprecated: the former name of ``GET /quotas/usage``, answered the same."""
    return quota_usage(request)


# --- quotas (platform admins) ---------------------------------------------------------------------


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
    quota = quota_with_id(quota_id)
    if quota is None:
        raise NotFound("Quota not found.")
    return quota


@router.get("/quotas", response=list[QuotaOut], tags=["quotas"])
def list_quotas(request: HttpRequest, workspace: str | None = None):
    require_platform_admin(request)
    return all_quotas(workspace)


@router.post("/quotas", response={201: QuotaOut}, tags=["quotas"])
def create_quota(request: HttpRequest, payload: QuotaIn):
    """Limit a workspace's calls, for all its models or one (platform admins)."""
    admin = require_platform_admin(request)
    workspace = get_workspace_for_user(admin, payload.workspace)  # an admin's: any workspace
    endpoint = None
    if payload.model is not None:
        endpoint = endpoint_named(payload.model)
        if endpoint is None:
            raise InvalidParameter(f"model: no model endpoint is named '{payload.model}'.")
    limits = payload.model_dump(include=set(quota_services.LIMITS))
    quota = quota_services.create_quota(workspace=workspace, endpoint=endpoint, limits=limits)
    return Status(201, quota)


@router.patch("/quotas/{quota_id}", response=QuotaOut, tags=["quotas"])
def update_quota(request: HttpRequest, quota_id: str, payload: QuotaLimitsIn):
    """Change limits; send a limit as null to lift it. Effective on the next call."""
    require_platform_admin(request)
    return quota_services.update_quota(_quota(quota_id), payload.model_dump(exclude_unset=True))


@router.delete("/quotas/{quota_id}", response={204: None}, tags=["quotas"])
def delete_quota(request: HttpRequest, quota_id: str):
    require_platform_admin(request)
    quota_services.delete_quota(_quota(quota_id))
    return Status(204, None)
