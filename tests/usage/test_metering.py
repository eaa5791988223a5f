"""Every gateway call is metered: buffered in Redis off the hot path, flushed into the
ledger and the daily rollups, and readable through the console API."""

from datetime import timedelta
from decimal import Decimal

import httpx
import openai
import pytest
import redis
from django.utils import timezone

from apps.usage import recorder
from apps.usage.models import DailyUsage, UsageRecord
from apps.usage.services import PENDING_KEY, flush_usage
from apps.usage.tasks import flush
from kernel.redis_connection import redis_client
from tests.console import ConsoleClient
from tests.upstream import error, raw, stream, text

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _empty_buffer():
    redis_client().delete(PENDING_KEY)


def sdk(platform_url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{platform_url}/compatible-mode/v1", api_key=key, max_retries=0)


def test_calls_are_buffered_then_flushed_into_the_ledger(platform_url, granted, upstream):
    from apps.model_endpoints.models import ModelEndpoint

    ModelEndpoint.objects.filter(name="qwen-plus").update(
        price_input_per_1k=Decimal("0.002"), price_output_per_1k=Decimal("0.006")
    )
    upstream.script(
        "chat", text("four words right here", prompt_tokens=1000, completion_tokens=500)
    )
    sdk(platform_url, granted["acme_key"]).chat.completions.create(
        model="qwen-plus", messages=[{"role": "user", "content": "hi"}]
    )
    assert redis_client().llen(PENDING_KEY) == 1  # buffered, not yet in the database
    assert not UsageRecord.objects.exists()

    assert flush.delay().get() == 1  # the periodic task
    record = UsageRecord.objects.get()
    assert (record.model, record.surface, record.capability, record.status) == (
        "qwen-plus",
        "openai",
        "chat",
        "ok",
    )
    assert (record.input_tokens, record.output_tokens) == (1000, 500)
    assert record.tokens_counted_locally is False
    assert record.cost == Decimal("0.002") + Decimal("0.003")
    assert record.api_key.name == "program"
    assert record.request_id and record.latency_ms >= 0
    daily = DailyUsage.objects.get()
    assert (daily.requests, daily.errors, daily.input_tokens, daily.output_tokens) == (
        1,
        0,
        1000,
        500,
    )


def test_streams_record_time_to_first_token_and_cancellations(platform_url, granted, upstream):
    upstream.script("chat", stream(["a", "b", "c"], delay=0.2))
    for _ in sdk(platform_url, granted["acme_key"]).chat.completions.create(
        model="qwen-plus", messages=[{"role": "user", "content": "go"}], stream=True
    ):
        pass
    upstream.script("chat", stream([f"w{i} " for i in range(10)], delay=0.25))
    body = {"model": "qwen-plus", "messages": [{"role": "user", "content": "x"}], "stream": True}
    with httpx.stream(
        "POST",
        f"{platform_url}/compatible-mode/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {granted['acme_key']}"},
        timeout=10,
    ) as response:
        for line in response.iter_lines():
            if '"content": "w0' in line:
                break
    import time

    time.sleep(1.5)
    flush_usage()
    done, cancelled = UsageRecord.objects.order_by("created_at")
    assert done.status == "ok"
    assert 0 < done.time_to_first_token_ms < done.latency_ms
    assert done.output_tokens > 0
    assert cancelled.status == "cancelled"


def test_upstream_errors_are_recorded_as_errors(platform_url, granted, upstream):
    upstream.script("chat", error(500, "boom"))
    with pytest.raises(openai.APIStatusError):
        sdk(platform_url, granted["acme_key"]).chat.completions.create(
            model="qwen-plus", messages=[{"role": "user", "content": "hi"}]
        )
    flush_usage()
    record = UsageRecord.objects.get()
    assert (record.status, record.error_code) == ("error", "UpstreamServerError")
    assert DailyUsage.objects.get().errors == 1


def test_without_upstream_usage_tokens_are_counted_locally(platform_url, granted, upstream):
    answer = {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": "up-chat",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "Hello there, world"},
            }
        ],
    }
    upstream.script("chat", raw(200, answer))
    sdk(platform_url, granted["acme_key"]).chat.completions.create(
        model="qwen-plus", messages=[{"role": "user", "content": "Say hello to the world"}]
    )
    flush_usage()
    record = UsageRecord.objects.get()
    assert record.tokens_counted_locally is True
    assert record.input_tokens == 5 and record.output_tokens == 4  # qwen3 vocabulary


def test_embeddings_are_metered(platform_url, granted):
    sdk(platform_url, granted["acme_key"]).embeddings.create(
        model="text-embedding-v3", input=["a b c", "d e"]
    )
    flush_usage()
    record = UsageRecord.objects.get()
    assert (record.capability, record.input_tokens, record.output_tokens) == ("embedding", 5, 0)


def test_a_redis_outage_writes_usage_directly(platform_url, granted, alice, monkeypatch):
    """On the async hot path (the SDK surfaces) and the blocking one (a console call)."""

    class Down:
        def rpush(self, *args):
            raise redis.ConnectionError("redis is down")

    class AsyncDown:
        async def rpush(self, *args):
            raise redis.ConnectionError("redis is down")

    monkeypatch.setattr(recorder, "redis_client", lambda: Down())
    monkeypatch.setattr(recorder, "async_redis_client", lambda: AsyncDown())
    sdk(platform_url, granted["acme_key"]).embeddings.create(model="text-embedding-v3", input="x")
    assert UsageRecord.objects.filter(surface="openai").count() == 1
    played = (
        ConsoleClient()
        .as_user(alice, "acme")
        .post(
            "/models/chat",
            {"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}]}
            | {"stream": False},
        )
    )
    assert played.status_code == 200, played.content
    assert UsageRecord.objects.filter(surface="console").count() == 1


def test_the_usage_api_groups_and_totals(platform_url, granted, upstream, alice, bob):
    client = sdk(platform_url, granted["acme_key"])
    for _ in range(3):
        client.chat.completions.create(
            model="qwen-plus", messages=[{"role": "user", "content": "x"}]
        )
    client.embeddings.create(model="text-embedding-v3", input="x")
    console = ConsoleClient().as_user(alice, "acme")  # reads flush the buffer first
    by_model = console.get("/usage?group_by=model").json()
    assert [(r["key"], r["requests"]) for r in by_model["rows"]] == [
        ("qwen-plus", 3),
        ("text-embedding-v3", 1),
    ]
    assert by_model["totals"]["requests"] == 4
    by_day = console.get("/usage").json()
    assert [r["key"] for r in by_day["rows"]] == [timezone.now().date().isoformat()]
    by_key = console.get("/usage?group_by=api_key").json()
    assert [r["key"] for r in by_key["rows"]] == ["program"]

    yesterday = (timezone.now() - timedelta(days=1)).date().isoformat()
    assert console.get(f"/usage?end={yesterday}").json()["totals"]["requests"] == 0
    assert ConsoleClient().as_user(bob, "globex").get("/usage").json()["totals"]["requests"] == 0
    assert ConsoleClient().as_user(bob, "acme").get("/usage").status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "?group_by=colour",
        "?start=2026-02-30",
        "?start=2026-05-02&end=2026-05-01",
        "?start=2020-01-01&end=2026-01-01",
    ],
)
def test_bad_usage_queries_are_400s(alice, acme, query):
    response = ConsoleClient().as_user(alice, "acme").get(f"/usage{query}")
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParameter"
