"""Reads of usage: totals by day, model or key, for one workspace."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Sum

from apps.accounts.models import Workspace
from apps.usage.models import DailyUsage

GROUPS = {"day": "day", "model": "model", "api_key": "api_key__name"}


@dataclass(frozen=True)
class UsageRow:
    key: str
    requests: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost: Decimal


def usage_summary(
    workspace: Workspace, *, start: date, end: date, group_by: str
) -> tuple[list[UsageRow], UsageRow]:
    """Rows grouped by ``group_by`` between ``start`` and ``end`` (inclusive), and totals."""
    rows = DailyUsage.objects.in_workspace(workspace).filter(day__gte=start, day__lte=end)
    sums = {
        "requests": Sum("requests"),
        "errors": Sum("errors"),
        "input_tokens": Sum("input_tokens"),
        "output_tokens": Sum("output_tokens"),
        "cost": Sum("cost"),
    }
    field = GROUPS[group_by]
    grouped = rows.values(field).annotate(**sums).order_by(field)
    result = [
        UsageRow(
            key=str(row[field]) if row[field] is not None else "(deleted key)",
            requests=row["requests"],
            errors=row["errors"],
            input_tokens=row["input_tokens"],
            output_tokens=row["output_tokens"],
            cost=row["cost"],
        )
        for row in grouped
    ]
    totals = rows.aggregate(**sums)
    total = UsageRow(
        key="total",
        requests=totals["requests"] or 0,
        errors=totals["errors"] or 0,
        input_tokens=totals["input_tokens"] or 0,
        output_tokens=totals["output_tokens"] or 0,
        cost=totals["cost"] or Decimal(0),
    )
    return result, total
