"""Reads of usage: totals by day, model, key, app or batch, and quota consumption, for one
workspace; and the quotas platform admins manage."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import redis
from django.apps import apps as installed_apps
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count, F, Q, QuerySet, Sum

from apps.accounts.models import Workspace
from apps.usage.models import CallStatus, DailyUsage, Quota, UsageRecord
from apps.usage.quotas import checks_for, limiter

GROUPS = {"day": "day", "model": "model", "api_key": "api_key__name"}
NO_APP = "(no app)"
NO_BATCH = "(no batch)"


@dataclass(frozen=True)
class UsageRow:
    key: str
    requests: int
    errors: int
    cache_hits: int
    input_tokens: int
    output_tokens: int
    cost: Decimal
    label: str | None = None


def usage_summary(
    workspace: Workspace, *, start: date, end: date, group_by: str
) -> tuple[list[UsageRow], UsageRow]:
    """Rows grouped by ``group_by`` between ``start`` and ``end`` (inclusive), and totals."""
    rows = DailyUsage.objects.in_workspace(workspace).filter(day__gte=start, day__lte=end)
    sums = {
        "requests": Sum("requests"),
        "errors": Sum("errors"),
        "cache_hits": Sum("cache_hits"),
        "input_tokens": Sum("input_tokens"),
        "output_tokens": Sum("output_tokens"),
        "cost": Sum("cost"),
    }
    if group_by == "app":
        result = _by_app(workspace, start=start, end=end)
    elif group_by == "batch":
        result = _by_batch(workspace, start=start, end=end)
    else:
        result = _by_rollup_field(rows, GROUPS[group_by], sums)
    totals = rows.aggregate(**sums)
    return result, UsageRow(
        key="total",
        requests=totals["requests"] or 0,
        errors=totals["errors"] or 0,
        cache_hits=totals["cache_hits"] or 0,
        input_tokens=totals["input_tokens"] or 0,
        output_tokens=totals["output_tokens"] or 0,
        cost=totals["cost"] or Decimal(0),
    )


def _by_rollup_field(rows, field: str, sums: dict) -> list[UsageRow]:
    grouped = rows.values(field).annotate(**sums).order_by(field)
    return [
        UsageRow(
            key=str(row[field]) if row[field] is not None else "(deleted key)",
            requests=row["requests"],
            errors=row["errors"],
            cache_hits=row["cache_hits"],
            input_tokens=row["input_tokens"],
            output_tokens=row["output_tokens"],
            cost=row["cost"],
        )
        for row in grouped
    ]


def _by_app(workspace: Workspace, *, start: date, end: date) -> list[UsageRow]:
    """The ledger grouped by the app whose run made each call (the daily rollups do not
    keep the app); calls outside any app are one row keyed ``(no app)``."""
    grouped = _ledger_by(workspace, "app_id", start=start, end=end)
    ids = [row["app_id"] for row in grouped if row["app_id"] is not None]
    # By name through the app registry: agents depends on usage (through the gateway),
    # so usage does not import it.
    agent_app = installed_apps.get_model("agents", "AgentApp")
    names = dict(
        agent_app.objects.in_workspace(workspace).filter(pk__in=ids).values_list("pk", "name")
    )
    return _ledger_rows(
        grouped, "app_id", NO_APP, label=lambda app_id: names.get(app_id, "(deleted app)")
    )


def _by_batch(workspace: Workspace, *, start: date, end: date) -> list[UsageRow]:
    """The ledger grouped by the batch whose lines made each call; real-time calls are one
    row keyed ``(no batch)``."""
    grouped = _ledger_by(workspace, "batch_id", start=start, end=end)
    return _ledger_rows(grouped, "batch_id", NO_BATCH)


def _ledger_by(workspace: Workspace, field: str, *, start: date, end: date) -> list[dict]:
    since = datetime.combine(start, time.min, tzinfo=UTC)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
    return list(
        UsageRecord.objects.in_workspace(workspace)
        .filter(created_at__gte=since, created_at__lt=until)
        .values(field)
        .annotate(
            requests=Count("id"),
            errors=Count("id", filter=~Q(status=CallStatus.OK)),  # as the daily rollups count
            cache_hits=Count("id", filter=Q(cache_hit=True)),
            input_tokens=Sum("input_tokens"),
            output_tokens=Sum("output_tokens"),
            cost=Sum("cost"),
        )
    )


def _ledger_rows(
    grouped: list[dict], field: str, none_key: str, label: Callable[[Any], str] | None = None
) -> list[UsageRow]:
    """Rows of ``_ledger_by``, busiest first, the calls outside any group (``none_key``) last."""
    rows = [
        UsageRow(
            key=str(row[field]) if row[field] else none_key,
            label=label(row[field]) if label and row[field] else None,
            requests=row["requests"],
            errors=row["errors"],
            cache_hits=row["cache_hits"],
            input_tokens=row["input_tokens"] or 0,
            output_tokens=row["output_tokens"] or 0,
            cost=row["cost"] or Decimal(0),
        )
        for row in grouped
    ]
    return sorted(rows, key=lambda row: (row.key == none_key, -row.requests, row.key))


@dataclass(frozen=True)
class LimitUsage:
    name: str  # the Quota field: requests_per_minute, tokens_per_day, ...
    limit: int
    used: int | None  # None: the quota store is unreachable


@dataclass(frozen=True)
class QuotaUsage:
    quota: Quota
    limits: list[LimitUsage]


def quota_consumption(workspace: Workspace) -> list[QuotaUsage]:
    """Each quota binding ``workspace`` (all models first, then per model) with every limit
    it sets and what the limiter has counted against it right now."""
    quotas = (
        Quota.objects.in_workspace(workspace)
        .select_related("workspace", "endpoint")
        .order_by(F("endpoint__name").asc(nulls_first=True), "id")
    )
    result = []
    for quota in quotas:
        checks = checks_for(quota)
        try:
            used = limiter().consumption(checks)
        except redis.RedisError:
            used = [None] * len(checks)
        limits = [
            LimitUsage(name=check.name, limit=check.limit, used=count)
            for check, count in zip(checks, used, strict=True)
        ]
        result.append(QuotaUsage(quota=quota, limits=limits))
    return result


# --- quotas as platform admins manage them ------------------------------------------------------


def all_quotas(workspace_slug: str | None = None) -> QuerySet[Quota]:
    """Every workspace's quotas by workspace, or only those of ``workspace_slug``."""
    quotas = Quota.objects.select_related("workspace", "endpoint").order_by("workspace__slug", "id")
    if workspace_slug:
        quotas = quotas.filter(workspace__slug=workspace_slug)
    return quotas


def quota_with_id(quota_id: str) -> Quota | None:
    """The quota ``quota_id``, of any workspace; None when absent or malformed."""
    try:
        return Quota.objects.select_related("workspace", "endpoint").get(pk=quota_id)
    except (Quota.DoesNotExist, ValueError, DjangoValidationError):
        return None
