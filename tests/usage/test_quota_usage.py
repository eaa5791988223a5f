"""``GET /quotas/usage``: the quotas binding a workspace with what the Redis limiter has
counted against each limit (the one name; ``/usage/quotas`` is its deprecated alias, tested
in test_usage_console.py)."""

import pytest
import redis

from apps.model_endpoints.models import ModelEndpoint
from apps.usage import quotas
from apps.usage.models import Quota
from tests.applications.conftest import chat, make_app, play  # noqa: F401  (chat: a fixture)
from tests.console import ConsoleClient
from tests.knowledge.conftest import models  # noqa: F401  (a fixture, used by `chat`)
from tests.upstream import text

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def acme_console(alice, chat) -> ConsoleClient:  # noqa: F811
    return ConsoleClient().as_user(alice, "acme")


def test_quota_usage_after_some_calls(acme_console, upstream, acme, globex, vera, bob):
    chat_model = ModelEndpoint.objects.get(name="agent-chat")
    everything = Quota.objects.create(workspace=acme, requests_per_minute=10, tokens_per_day=9000)
    per_model = Quota.objects.create(workspace=acme, endpoint=chat_model, concurrent_requests=3)
    Quota.objects.create(workspace=globex, requests_per_minute=7)

    upstream.script("chat", text("ok", prompt_tokens=10, completion_tokens=5))
    play(acme_console, make_app(acme_console)["id"], "one")

    response = ConsoleClient().as_user(vera, "acme").get("/quotas/usage")  # a viewer
    assert response.status_code == 200
    body = response.json()
    assert [(q["id"], q["model"]) for q in body] == [
        (everything.pk, None),
        (per_model.pk, "agent-chat"),
    ]
    assert body[0]["limits"] == [
        {"name": "requests_per_minute", "limit": 10, "used": 1},
        {"name": "tokens_per_day", "limit": 9000, "used": 15},
    ]
    assert acme_console.get("/usage/quotas").json() == body  # the deprecated alias

    # Another workspace sees only its own quota; acme's answers 404 to its member.
    theirs = ConsoleClient().as_user(bob, "globex").get("/quotas/usage").json()
    assert [(q["model"], q["limits"]) for q in theirs] == [
        (None, [{"name": "requests_per_minute", "limit": 7, "used": 0}])
    ]
    assert ConsoleClient().as_user(bob, "acme").get("/quotas/usage").status_code == 404


def test_quota_usage_without_redis_is_unknown_not_an_error(acme_console, acme, monkeypatch):
    Quota.objects.create(workspace=acme, requests_per_minute=5)

    def down(self, checks, now_ms=None):
        raise redis.ConnectionError("gone")

    monkeypatch.setattr(type(quotas.limiter()), "consumption", down)
    body = acme_console.get("/quotas/usage").json()
    assert body[0]["limits"] == [{"name": "requests_per_minute", "limit": 5, "used": None}]


def test_no_quota_is_an_empty_list(acme_console):
    assert acme_console.get("/quotas/usage").json() == []


def test_the_old_name_is_deprecated_in_the_schema(client):
    paths = client.get("/console/api/openapi.json").json()["paths"]
    assert paths["/console/api/usage/quotas"]["get"]["deprecated"] is True
    assert "deprecated" not in paths["/console/api/quotas/usage"]["get"]
    assert {"patch", "delete"} <= set(paths["/console/api/quotas/{quota_id}"])
