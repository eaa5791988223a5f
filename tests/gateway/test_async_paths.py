"""The SDK surfaces' hot paths run as async views: a warm call asks the database nothing
(key, route and quotas come from the process's caches and Redis), streams are async
iterators end to end (Django's warning about consuming a synchronous iterator never
shows), and a provider without an async client still answers through its blocking methods."""

import threading
from contextlib import contextmanager

import dashscope
import httpx
import openai
import pytest
from django.db.backends.utils import CursorWrapper

from apps.model_endpoints import services as endpoints
from apps.usage.models import Quota
from tests.upstream import stream, text, vectors

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HI = [{"role": "user", "content": "hi"}]
SYNC_ITERATOR_WARNING = "must consume synchronous iterators"


def client(platform_url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{platform_url}/compatible-mode/v1", api_key=key, max_retries=0)


@contextmanager
def database_statements(monkeypatch):
    """Every SQL statement any thread of this process runs meanwhile (the server's too)."""
    statements: list[str] = []
    lock = threading.Lock()
    execute, executemany = CursorWrapper.execute, CursorWrapper.executemany

    def counted(original):
        def run(self, sql, *args, **kwargs):
            with lock:
                statements.append(str(sql))
            return original(self, sql, *args, **kwargs)

        return run

    with monkeypatch.context() as patch:
        patch.setattr(CursorWrapper, "execute", counted(execute))
        patch.setattr(CursorWrapper, "executemany", counted(executemany))
        yield statements


def every_kind_of_call(platform_url: str, key: str) -> None:
    """A chat, a streamed chat and an embedding on the OpenAI surface, a generation and a
    streamed one on DashScope's."""
    sdk = client(platform_url, key)
    sdk.chat.completions.create(model="qwen-plus", messages=HI)
    list(sdk.chat.completions.create(model="qwen-plus", messages=HI, stream=True))
    sdk.embeddings.create(model="text-embedding-v3", input=["a"])
    dashscope.base_http_api_url = f"{platform_url}/api/v1"
    answer = dashscope.Generation.call(api_key=key, model="qwen-plus", prompt="hi")
    assert answer.status_code == 200
    streamed = list(
        dashscope.Generation.call(api_key=key, model="qwen-plus", prompt="hi", stream=True)
    )
    assert streamed[-1].status_code == 200


def script_every_kind_of_call(upstream) -> None:
    upstream.script("chat", text("one"), stream(["t", "wo"]), text("three"), stream(["fo", "ur"]))
    upstream.script("embeddings", vectors([[0.5] * 64]))


def test_a_warm_call_asks_the_database_nothing(platform_url, granted, upstream, acme, monkeypatch):
    Quota.objects.create(workspace=acme, requests_per_minute=100, tokens_per_day=10**6)
    script_every_kind_of_call(upstream)
    with database_statements(monkeypatch) as cold:
        every_kind_of_call(platform_url, granted["acme_key"])  # warms the caches
    assert any("accounts_apikey" in sql for sql in cold)  # what is counted is seen

    script_every_kind_of_call(upstream)
    with database_statements(monkeypatch) as statements:
        every_kind_of_call(platform_url, granted["acme_key"])
    assert statements == []
    assert len(upstream.requests_for("chat")) == 8


def test_a_change_still_binds_the_next_warm_call(platform_url, granted, upstream, acme):
    """What the caches hold is read again after a change: a new quota refuses at once."""
    upstream.script("chat", text("one"))
    sdk = client(platform_url, granted["acme_key"])
    sdk.chat.completions.create(model="qwen-plus", messages=HI)
    Quota.objects.create(workspace=acme, requests_per_minute=1)
    upstream.script("chat", text("two"))
    sdk.chat.completions.create(model="qwen-plus", messages=HI)
    with pytest.raises(openai.RateLimitError):
        sdk.chat.completions.create(model="qwen-plus", messages=HI)


def test_streams_consume_no_synchronous_iterator(platform_url, granted, upstream, recwarn):
    upstream.script("chat", stream(["a", "b"]), stream(["c", "d"]))
    chunks = list(
        client(platform_url, granted["acme_key"]).chat.completions.create(
            model="qwen-plus", messages=HI, stream=True
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "ab"
    with httpx.stream(
        "POST",
        f"{platform_url}/api/v1/services/aigc/text-generation/generation",
        json={"model": "qwen-plus", "input": {"messages": HI}},
        headers={"Authorization": f"Bearer {granted['acme_key']}", "X-DashScope-SSE": "enable"},
        timeout=10,
    ) as response:
        frames = [line for line in response.iter_lines() if line.startswith("data:")]
    assert len(frames) == 3  # "c", "d", then the finish
    assert not [w for w in recwarn.list if SYNC_ITERATOR_WARNING in str(w.message)]


def test_a_provider_without_an_async_client_answers_through_its_blocking_methods(
    platform_url, granted, upstream, acme
):
    """The native DashScope provider implements only the blocking methods: the contract's
    defaults run them on a thread (a stream chunk by chunk)."""
    endpoint = endpoints.create_endpoint(
        name="qwen-native",
        provider="dashscope",
        upstream_model="qwen-plus",
        capabilities=["chat"],
        settings={"api_key": "sk-up", "base_url": upstream.dashscope_base_url},
    )
    endpoints.grant(endpoint, acme, by=None)
    upstream.script("dashscope.generation", text("native answer"), stream(["nat", "ive"]))
    sdk = client(platform_url, granted["acme_key"])
    answer = sdk.chat.completions.create(model="qwen-native", messages=HI)
    assert answer.choices[0].message.content == "native answer"
    chunks = list(sdk.chat.completions.create(model="qwen-native", messages=HI, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "native"
