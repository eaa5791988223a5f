"""Writes of usage: moving buffered events into the ledger and the daily rollups."""

import json
from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction

from apps.accounts.models import ApiKey, Workspace
from apps.model_endpoints.models import ModelEndpoint
from apps.usage.models import CallStatus, DailyUsage, UsageRecord
from kernel.redis_connection import redis_client

PENDING_KEY = "ministudio:usage:pending"
BATCH_SIZE = 500

_UPSERT_DAILY = f"""
INSERT INTO {DailyUsage._meta.db_table}
    (workspace_id, day, model, api_key_id, requests, errors, cache_hits, input_tokens,
     output_tokens, cost)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (workspace_id, day, model, api_key_id) DO UPDATE SET
    requests = {DailyUsage._meta.db_table}.requests + EXCLUDED.requests,
    errors = {DailyUsage._meta.db_table}.errors + EXCLUDED.errors,
    cache_hits = {DailyUsage._meta.db_table}.cache_hits + EXCLUDED.cache_hits,
    input_tokens = {DailyUsage._meta.db_table}.input_tokens + EXCLUDED.input_tokens,
    output_tokens = {DailyUsage._meta.db_table}.output_tokens + EXCLUDED.output_tokens,
    cost = {DailyUsage._meta.db_table}.cost + EXCLUDED.cost
"""  # noqa: S608  (table names come from the model, not from input)


def write_events(payloads: list[bytes | str]) -> int:
    """Insert events into the ledger and add them to the daily rollups, atomically."""
    events = [json.loads(p) for p in payloads]
    _forget_deleted(events)
    records = [
        UsageRecord(
            workspace_id=e["workspace_id"],
            api_key_id=e["api_key_id"],
            endpoint_id=e["endpoint_id"],
            model=e["model"],
            surface=e["surface"],
            capability=e["capability"],
            input_tokens=e["input_tokens"],
            output_tokens=e["output_tokens"],
            tokens_counted_locally=e["tokens_counted_locally"],
            latency_ms=e["latency_ms"],
            time_to_first_token_ms=e["time_to_first_token_ms"],
            status=e["status"],
            error_code=e["error_code"],
            cost=Decimal(e["cost"]),
            request_id=e["request_id"],
            app_id=e.get("app_id"),
            batch_id=e.get("batch_id") or "",
            app_node=e.get("app_node") or "",
            cache_hit=e.get("cache_hit", False),
            created_at=datetime.fromisoformat(e["created_at"]),
        )
        for e in events
    ]
    sums: dict[tuple, list] = defaultdict(lambda: [0, 0, 0, 0, 0, Decimal(0)])
    for r in records:
        row = sums[(r.workspace_id, r.created_at.date(), r.model, r.api_key_id)]
        row[0] += 1
        row[1] += r.status != CallStatus.OK
        row[2] += r.cache_hit
        row[3] += r.input_tokens
        row[4] += r.output_tokens
        row[5] += r.cost
    with transaction.atomic():
        UsageRecord.objects.bulk_create(records, batch_size=BATCH_SIZE)
        with connection.cursor() as cursor:
            cursor.executemany(_UPSERT_DAILY, [(*key, *values) for key, values in sums.items()])
    return len(records)


def _forget_deleted(events: list[dict]) -> None:
    """Events outlive what they name: a workspace deleted since drops its events; a key or
    endpoint deleted since is unlinked, as SET_NULL would have done."""
    existing = {
        "workspace_id": _existing(Workspace, {e["workspace_id"] for e in events}),
        "api_key_id": _existing(ApiKey, {e["api_key_id"] for e in events}),
        "endpoint_id": _existing(ModelEndpoint, {e["endpoint_id"] for e in events}),
    }
    events[:] = [e for e in events if e["workspace_id"] in existing["workspace_id"]]
    for event in events:
        for name in ("api_key_id", "endpoint_id"):
            if event[name] not in existing[name]:
                event[name] = None


def _existing(model, ids: set) -> set[str]:
    wanted = {i for i in ids if i}
    return {str(pk) for pk in model.objects.filter(pk__in=wanted).values_list("pk", flat=True)}


def flush_usage() -> int:
    """Move every buffered event into the database; the number moved.

    Events are popped in batches; a batch that fails to write is pushed back, so nothing
    is lost (two flushers never take the same event).
    """
    client = redis_client()
    moved = 0
    while batch := client.lpop(PENDING_KEY, BATCH_SIZE):
        try:
            moved += write_events(batch)
        except Exception:
            client.rpush(PENDING_KEY, *batch)
            raise
        if len(batch) < BATCH_SIZE:
            break
    return moved
