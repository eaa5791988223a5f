"""Console API: a workspace's usage by day, model or API key, with totals."""

from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Schema

from apps.accounts.context import workspace_context
from apps.accounts.permissions import Permission
from apps.usage.selectors import usage_summary
from apps.usage.services import flush_usage
from studio.errors import InvalidParameter

router = Router(tags=["usage"])
MAX_DAYS = 366


class UsageRowOut(Schema):
    key: str
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
    group_by: Literal["day", "model", "api_key"] = "day",
):
    """Usage between ``start`` and ``end`` (UTC days, inclusive; default the last 30)."""
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
