"""Quotas through the gateway: set by platform admins, enforced on every call, named in
the 429, settled to real usage, and failing closed without Redis."""

import openai
import pytest
import redis
from dashscope import Generation

from apps.model_endpoints.models import ModelEndpoint
from apps.usage import quotas
from apps.usage.models import Quota
from tests.console import ConsoleClient
from tests.upstream import error, text

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def sdk(platform_url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{platform_url}/compatible-mode/v1", api_key=key, max_retries=0)


def hello(client: openai.OpenAI, **kwargs):
    return client.chat.completions.create(
        model="qwen-plus", messages=[{"role": "user", "content": "hi"}], **kwargs
    )


def test_requests_per_minute_through_both_surfaces(platform_url, granted, acme, monkeypatch):
    import dashscope

    Quota.objects.create(workspace=acme, requests_per_minute=2)
    client = sdk(platform_url, granted["acme_key"])
    hello(client)
    hello(client)
    with pytest.raises(openai.RateLimitError) as raised:
        hello(client)
    assert raised.value.body["code"] == "rate_limit_exceeded"
    assert "requests per minute of workspace 'acme', all models is 2" in raised.value.message
    assert 1 <= int(raised.value.response.headers["retry-after"]) <= 60

    monkeypatch.setattr(dashscope, "base_http_api_url", f"{platform_url}/api/v1")
    refused = Generation.call(model="qwen-plus", prompt="hi", api_key=granted["acme_key"])
    assert (refused.status_code, refused.code) == (429, "Throttling.RateQuota")
    assert "requests per minute" in refused.message


def test_a_per_model_quota_binds_only_that_model(platform_url, granted, acme):
    chat = ModelEndpoint.objects.get(name="qwen-plus")
    Quota.objects.create(workspace=acme, endpoint=chat, requests_per_minute=1)
    client = sdk(platform_url, granted["acme_key"])
    hello(client)
    with pytest.raises(openai.RateLimitError, match="model 'qwen-plus'"):
        hello(client)
    client.embeddings.create(model="text-embedding-v3", input="still fine")
    client.embeddings.create(model="text-embedding-v3", input="still fine")


def test_token_budgets_reserve_then_settle_to_real_usage(platform_url, granted, acme, upstream):
    Quota.objects.create(workspace=acme, tokens_per_day=300)
    client = sdk(platform_url, granted["acme_key"])
    # The reservation (prompt + max_tokens) must fit, whatever the answer turns out to be.
    with pytest.raises(openai.RateLimitError) as raised:
        hello(client, max_tokens=400)
    assert raised.value.body["code"] == "insufficient_quota"
    assert "tokens per day" in raised.value.message
    upstream.script("chat", text("ok", prompt_tokens=100, completion_tokens=50))
    hello(client, max_tokens=200)  # reserves ~201, settles to 150
    upstream.script("chat", text("ok", prompt_tokens=100, completion_tokens=40))
    hello(client, max_tokens=140)  # fits only because the first call settled down
    with pytest.raises(openai.RateLimitError):
        hello(client, max_tokens=100)


def test_a_failed_call_releases_its_reservation(platform_url, granted, acme, upstream):
    Quota.objects.create(workspace=acme, tokens_per_minute=250)
    client = sdk(platform_url, granted["acme_key"])
    upstream.script("chat", error(500, "upstream broke"))
    with pytest.raises(openai.InternalServerError):
        hello(client, max_tokens=240)
    hello(client, max_tokens=240)  # the failed call's 241 tokens came back


def test_redis_down_fails_closed_or_open_as_configured(
    platform_url, granted, acme, settings, monkeypatch
):
    Quota.objects.create(workspace=acme, requests_per_minute=100)

    class Down:
        async def admit(self, *args):
            raise redis.ConnectionError("no redis")

    monkeypatch.setattr(quotas, "_async_limiter", lambda client: Down())
    client = sdk(platform_url, granted["acme_key"])
    with pytest.raises(openai.APIStatusError) as raised:
        hello(client)
    assert raised.value.status_code == 503
    assert raised.value.body["code"] == "quota_service_unavailable"
    settings.QUOTA_FAIL_OPEN = True
    assert hello(client).choices[0].message.content == "echo: hi"


def test_platform_admins_manage_quotas(root, alice, acme, globex, db):
    admin = ConsoleClient().as_user(root)
    created = admin.post("/quotas", {"workspace": "acme", "tokens_per_day": 1000})
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["workspace"], body["model"], body["tokens_per_day"]) == ("acme", None, 1000)
    assert admin.post("/quotas", {"workspace": "acme", "tokens_per_day": 5}).status_code == 409
    changed = admin.patch(
        f"/quotas/{body['id']}", {"tokens_per_day": None, "requests_per_minute": 9}
    )
    assert (changed.json()["tokens_per_day"], changed.json()["requests_per_minute"]) == (None, 9)
    assert [q["workspace"] for q in admin.get("/quotas?workspace=acme").json()] == ["acme"]
    assert admin.get("/quotas?workspace=globex").json() == []
    assert admin.delete(f"/quotas/{body['id']}").status_code == 204
    assert admin.delete(f"/quotas/{body['id']}").status_code == 404


@pytest.mark.parametrize(
    "payload",
    [
        {"workspace": "acme"},
        {"workspace": "acme", "requests_per_minute": -1},
        {"workspace": "acme", "model": "nope", "requests_per_minute": 1},
        # Larger than the columns hold (found by tests/fuzz): a 400, not a database error.
        {"workspace": "acme", "concurrent_requests": 2**31},
        {"workspace": "acme", "tokens_per_month": 2**63},
    ],
)
def test_bad_quotas_are_400s(root, acme, payload, db):
    response = ConsoleClient().as_user(root).post("/quotas", payload)
    assert response.status_code == 400
    assert not Quota.objects.exists()


def test_limits_larger_than_their_columns_are_400s(root, acme, db):
    admin = ConsoleClient().as_user(root)
    quota = admin.post("/quotas", {"workspace": "acme", "requests_per_minute": 2**31 - 1})
    assert quota.status_code == 201, quota.content
    for name in ("requests_per_minute", "tokens_per_minute", "concurrent_requests"):
        response = admin.patch(f"/quotas/{quota.json()['id']}", {name: 2**31})
        assert (response.status_code, response.json()["code"]) == (400, "InvalidParameter")
    response = admin.patch(f"/quotas/{quota.json()['id']}", {"tokens_per_day": 2**63})
    assert response.status_code == 400
    assert Quota.objects.get().requests_per_minute == 2**31 - 1


def test_members_cannot_set_quotas(alice, acme, db):
    response = (
        ConsoleClient()
        .as_user(alice, "acme")
        .post("/quotas", {"workspace": "acme", "requests_per_minute": 100000})
    )
    assert response.status_code == 403
    assert not Quota.objects.exists()
