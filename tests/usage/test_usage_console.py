"""The console's usage reads beyond the rollups: usage by agent app (from the ledger), and
the quotas binding a workspace with what the Redis limiter has counted against each limit."""

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


def test_usage_by_app_names_each_app_and_keeps_the_rest_apart(acme_console, upstream, vera, bob):
    faq = make_app(acme_console, name="FAQ bot")
    sales = make_app(acme_console, name="Sales helper")
    for app, prompt in ((faq, "a"), (faq, "b"), (sales, "c")):
        upstream.script("chat", text("ok", prompt_tokens=10, completion_tokens=5))
        play(acme_console, app["id"], prompt)
    upstream.script("chat", text("plain", prompt_tokens=3, completion_tokens=1))
    response = acme_console.post(
        "/models/chat",
        {"model": "agent-chat", "messages": [{"role": "user", "content": "x"}], "stream": False},
    )
    assert response.status_code == 200, response.content

    # A viewer may read it too.
    body = ConsoleClient().as_user(vera, "acme").get("/usage?group_by=app").json()
    assert body["group_by"] == "app"
    rows = [(r["key"], r["label"], r["requests"], r["input_tokens"]) for r in body["rows"]]
    assert rows == [
        (faq["id"], "FAQ bot", 2, 20),
        (sales["id"], "Sales helper", 1, 10),
        ("(no app)", None, 1, 3),
    ]
    assert sum(r["requests"] for r in body["rows"]) == body["totals"]["requests"] == 4
    assert sum(r["output_tokens"] for r in body["rows"]) == body["totals"]["output_tokens"]

    other = ConsoleClient().as_user(bob, "globex").get("/usage?group_by=app").json()
    assert other["rows"] == [] and other["totals"]["requests"] == 0


def test_quota_consumption_after_some_calls(acme_console, upstream, acme, globex, vera, bob):
    chat_model = ModelEndpoint.objects.get(name="agent-chat")
    everything = Quota.objects.create(
        workspace=acme, requests_per_minute=10, tokens_per_day=10_000, tokens_per_month=99_999
    )
    per_model = Quota.objects.create(
        workspace=acme, endpoint=chat_model, tokens_per_minute=5_000, concurrent_requests=3
    )
    Quota.objects.create(workspace=globex, requests_per_minute=7)

    before = acme_console.get("/usage/quotas").json()
    assert [q["limits"][0]["used"] for q in before] == [0, 0]

    app = make_app(acme_console)
    for prompt in ("one", "two"):
        upstream.script("chat", text("ok", prompt_tokens=10, completion_tokens=5))
        play(acme_console, app["id"], prompt)

    response = ConsoleClient().as_user(vera, "acme").get("/usage/quotas")
    assert response.status_code == 200
    body = response.json()
    assert [(q["id"], q["model"]) for q in body] == [
        (everything.pk, None),
        (per_model.pk, "agent-chat"),
    ]
    used = {
        q["model"]: {lim["name"]: (lim["used"], lim["limit"]) for lim in q["limits"]} for q in body
    }
    # Token limits count what the calls really used once settled (2 x 15), not the reservation.
    assert used[None] == {
        "requests_per_minute": (2, 10),
        "tokens_per_day": (30, 10_000),
        "tokens_per_month": (30, 99_999),
    }
    assert used["agent-chat"] == {"tokens_per_minute": (30, 5_000), "concurrent_requests": (0, 3)}

    # Another workspace sees only its own quota, untouched by acme's calls.
    theirs = ConsoleClient().as_user(bob, "globex").get("/usage/quotas").json()
    assert [(q["model"], q["limits"]) for q in theirs] == [
        (None, [{"name": "requests_per_minute", "limit": 7, "used": 0}])
    ]
    assert ConsoleClient().as_user(bob, "acme").get("/usage/quotas").status_code == 404


def test_quota_consumption_without_redis_is_unknown_not_an_error(acme_console, acme, monkeypatch):
    Quota.objects.create(workspace=acme, requests_per_minute=5)

    def down(self, checks, now_ms=None):
        raise redis.ConnectionError("gone")

    monkeypatch.setattr(type(quotas.limiter()), "consumption", down)
    body = acme_console.get("/usage/quotas").json()
    assert body[0]["limits"] == [{"name": "requests_per_minute", "limit": 5, "used": None}]


def test_no_quota_is_an_empty_list(acme_console):
    assert acme_console.get("/usage/quotas").json() == []
