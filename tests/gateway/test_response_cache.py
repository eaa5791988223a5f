"""The response cache: a workspace that opts in for a model has identical deterministic chat
requests answered from Redis, on both SDK surfaces, streamed or not, never across workspaces,
marked in the headers and the usage ledger."""

import dashscope
import httpx
import openai
import pytest

from apps.model_endpoints import services as endpoints
from apps.model_endpoints.models import EndpointGrant, ModelEndpoint
from apps.usage.models import Quota, UsageRecord
from apps.usage.selectors import usage_summary
from apps.usage.services import flush_usage
from tests.upstream import error, stream, text, tool_call

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HI = [{"role": "user", "content": "hi"}]


def client(platform_url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{platform_url}/compatible-mode/v1", api_key=key, max_retries=0)


def cache_for(workspace, seconds: int = 600) -> None:
    endpoints.set_response_cache(workspace, "qwen-plus", seconds)


def create(platform_url: str, key: str, **arguments):
    """A chat completion and the cache header it came with."""
    raw = client(platform_url, key).chat.completions.with_raw_response.create(
        model="qwen-plus", messages=arguments.pop("messages", HI), **arguments
    )
    return raw.parse(), raw.headers.get("x-ministudio-cache")


def test_a_deterministic_request_is_answered_from_the_cache_the_second_time(
    platform_url, granted, upstream, acme
):
    cache_for(acme)
    upstream.script("chat", text("Cached words", prompt_tokens=7, completion_tokens=3))
    first, first_mark = create(platform_url, granted["acme_key"], temperature=0)
    again, again_mark = create(platform_url, granted["acme_key"], temperature=0)

    assert (first_mark, again_mark) == ("miss", "hit")
    assert again.choices[0].message.content == first.choices[0].message.content == "Cached words"
    assert (again.usage.prompt_tokens, again.usage.completion_tokens) == (7, 3)
    assert len(upstream.requests_for("chat")) == 1


def test_the_cache_is_off_until_the_workspace_opts_in(platform_url, granted, upstream):
    upstream.script("chat", text("one"), text("two"))
    first, first_mark = create(platform_url, granted["acme_key"], temperature=0)
    again, again_mark = create(platform_url, granted["acme_key"], temperature=0)
    assert (first.choices[0].message.content, again.choices[0].message.content) == ("one", "two")
    assert (first_mark, again_mark) == (None, None)


def test_only_deterministic_requests_are_cached(platform_url, granted, upstream, acme):
    """The endpoint's default temperature (0.3) applies when the caller sends none: such a
    request is sampled afresh each time; a seed makes it repeatable."""
    cache_for(acme)
    upstream.script("chat", text("one"), text("two"), text("seeded"))
    assert create(platform_url, granted["acme_key"])[1] is None
    assert create(platform_url, granted["acme_key"])[0].choices[0].message.content == "two"
    seeded = [create(platform_url, granted["acme_key"], seed=42) for _ in range(2)]
    assert [mark for _, mark in seeded] == ["miss", "hit"]
    assert seeded[1][0].choices[0].message.content == "seeded"
    assert upstream.requests_for("chat")[2].body["seed"] == 42
    assert len(upstream.requests_for("chat")) == 3


def test_a_request_that_differs_in_any_field_misses(platform_url, granted, upstream, acme):
    cache_for(acme)
    upstream.script("chat", text("a"), text("b"), text("c"), text("d"))
    key = granted["acme_key"]
    marks = [
        create(platform_url, key, temperature=0)[1],
        create(platform_url, key, temperature=0, max_tokens=5)[1],
        create(platform_url, key, temperature=0, stop=["."])[1],
        create(platform_url, key, temperature=0, messages=[{"role": "user", "content": "ho"}])[1],
    ]
    assert marks == ["miss"] * 4
    assert len(upstream.requests_for("chat")) == 4


def test_answers_are_never_shared_across_workspaces(platform_url, granted, upstream, acme, globex):
    endpoints.grant(ModelEndpoint.objects.get(name="qwen-plus"), globex, by=None)
    cache_for(acme)
    cache_for(globex)
    upstream.script("chat", text("for acme"), text("for globex"))
    assert create(platform_url, granted["acme_key"], temperature=0)[1] == "miss"
    answer, mark = create(platform_url, granted["globex_key"], temperature=0)
    assert (answer.choices[0].message.content, mark) == ("for globex", "miss")
    answer, mark = create(platform_url, granted["acme_key"], temperature=0)
    assert (answer.choices[0].message.content, mark) == ("for acme", "hit")


def test_a_stream_replays_a_cached_answer_and_a_streamed_answer_is_kept(
    platform_url, granted, upstream, acme
):
    cache_for(acme)
    upstream.script("chat", text("Whole answer"), stream(["Streamed", " answer"]))
    create(platform_url, granted["acme_key"], temperature=0)
    openai_client = client(platform_url, granted["acme_key"])

    with openai_client.chat.completions.with_streaming_response.create(
        model="qwen-plus", messages=HI, temperature=0, stream=True
    ) as response:
        assert response.headers["x-ministudio-cache"] == "hit"
        chunks = list(response.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Whole answer"
    assert chunks[-1].choices[0].finish_reason == "stop"

    other = [{"role": "user", "content": "stream me"}]
    list(
        openai_client.chat.completions.create(
            model="qwen-plus", messages=other, temperature=0, stream=True
        )
    )
    answer, mark = create(platform_url, granted["acme_key"], temperature=0, messages=other)
    assert (answer.choices[0].message.content, mark) == ("Streamed answer", "hit")
    assert len(upstream.requests_for("chat")) == 2


def test_tool_calls_survive_the_cache(platform_url, granted, upstream, acme):
    cache_for(acme)
    upstream.script("chat", tool_call("get_weather", '{"city": "Hangzhou"}', call_id="call_1"))
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    create(platform_url, granted["acme_key"], temperature=0, tools=tools)
    chunks = list(
        client(platform_url, granted["acme_key"]).chat.completions.create(
            model="qwen-plus", messages=HI, temperature=0, tools=tools, stream=True
        )
    )
    deltas = [chunk.choices[0].delta for chunk in chunks if chunk.choices]
    [call] = [call for delta in deltas for call in delta.tool_calls or []]
    assert (call.id, call.function.name, call.function.arguments) == (
        "call_1",
        "get_weather",
        '{"city": "Hangzhou"}',
    )
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert len(upstream.requests_for("chat")) == 1


def test_a_failed_call_is_not_kept(platform_url, granted, upstream, acme):
    cache_for(acme)
    upstream.script("chat", error(500, "boom"), text("recovered"))
    with pytest.raises(openai.InternalServerError):
        create(platform_url, granted["acme_key"], temperature=0)
    answer, mark = create(platform_url, granted["acme_key"], temperature=0)
    assert (answer.choices[0].message.content, mark) == ("recovered", "miss")


def test_the_dashscope_surface_shares_the_cache(platform_url, granted, upstream, acme):
    cache_for(acme)
    upstream.script("chat", text("通义"))
    url = f"{platform_url}/api/v1/services/aigc/text-generation/generation"
    body = {"model": "qwen-plus", "input": {"messages": HI}, "parameters": {"seed": 7}}
    headers = {"Authorization": f"Bearer {granted['acme_key']}"}
    first = httpx.post(url, json=body, headers=headers)
    assert first.headers["x-ministudio-cache"] == "miss"

    dashscope.base_http_api_url = f"{platform_url}/api/v1"
    answer = dashscope.Generation.call(
        api_key=granted["acme_key"], model="qwen-plus", messages=HI, seed=7, result_format="message"
    )
    assert answer.status_code == 200
    assert answer.output.choices[0].message.content == "通义"
    assert len(upstream.requests_for("chat")) == 1


def test_a_hit_is_in_the_ledger_at_no_cost_and_uses_no_quota_tokens(
    platform_url, granted, upstream, acme
):
    """With the day's tokens all but spent, a new request is refused while the cached one
    is still answered: a hit reserves and settles no tokens."""
    ModelEndpoint.objects.filter(name="qwen-plus").update(price_input_per_1k=1)
    cache_for(acme)
    Quota.objects.create(workspace=acme, tokens_per_day=20)
    upstream.script("chat", text("Cheap", prompt_tokens=7, completion_tokens=3))
    create(platform_url, granted["acme_key"], temperature=0, max_tokens=5)
    create(platform_url, granted["acme_key"], temperature=0, max_tokens=5)
    with pytest.raises(openai.RateLimitError):
        create(platform_url, granted["acme_key"], temperature=0, max_tokens=50)

    flush_usage()
    calls = UsageRecord.objects.filter(workspace=acme, status="ok").order_by("created_at")
    assert [(c.cache_hit, c.input_tokens, c.output_tokens) for c in calls] == [
        (False, 7, 3),
        (True, 7, 3),
    ]
    assert calls[0].cost > 0
    assert calls[1].cost == 0
    today = calls[0].created_at.date()
    rows, totals = usage_summary(acme, start=today, end=today, group_by="model")
    assert [(row.key, row.requests, row.cache_hits) for row in rows] == [("qwen-plus", 2, 1)]
    assert totals.cost == calls[0].cost
    [app_row] = usage_summary(acme, start=today, end=today, group_by="app")[0]
    assert app_row.cache_hits == 1


def test_turning_the_cache_off_stops_answers_from_it_at_once(platform_url, granted, upstream, acme):
    cache_for(acme)
    upstream.script("chat", text("kept"), text("fresh"))
    create(platform_url, granted["acme_key"], temperature=0)
    cache_for(acme, 0)
    answer, mark = create(platform_url, granted["acme_key"], temperature=0)
    assert (answer.choices[0].message.content, mark) == ("fresh", None)
    grant = EndpointGrant.objects.get(workspace=acme, endpoint__name="qwen-plus")
    assert grant.response_cache_seconds == 0
