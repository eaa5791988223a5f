"""Model groups: several endpoints behind one model name, called with the official SDKs.
Balancing (weighted, least busy), fallbacks on each kind of upstream failure (and never on
the caller's own mistake), streams that fall back before their first byte, cool-downs,
per-endpoint quotas, a group mixing providers, and the ledger naming the member that served."""

import threading

import dashscope
import httpx
import openai
import pytest

from apps.model_endpoints import group_services
from apps.model_endpoints import services as endpoints
from apps.model_endpoints.group_services import MemberSpec
from apps.model_endpoints.models import ModelEndpoint
from apps.usage.models import Quota, UsageRecord
from apps.usage.services import flush_usage
from tests.console import ConsoleClient
from tests.gateway_fixtures import openai_settings
from tests.upstream import error, slow, stream, text
from tests.worker_process import free_port

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HI = [{"role": "user", "content": "hi"}]


def client(platform_url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{platform_url}/compatible-mode/v1", api_key=key, max_retries=0)


def chat_endpoint(name: str, upstream_model: str, settings: dict) -> ModelEndpoint:
    return endpoints.create_endpoint(
        name=name,
        provider="openai",
        upstream_model=upstream_model,
        capabilities=["chat"],
        settings=settings,
        price_input_per_1k=1,
    )


@pytest.fixture
def members(upstream, granted):
    """Two chat endpoints on the stub, told apart by their upstream model names."""
    settings = openai_settings(upstream, timeout_seconds=1)
    return chat_endpoint("chat-a", "up-a", settings), chat_endpoint("chat-b", "up-b", settings)


def make_group(workspace, *specs: MemberSpec, balancing="least_busy", **fields):
    """A group called ``qwen-group`` granted to ``workspace``. Least busy by default: an
    idle group tries its members in order, so a test knows who comes first."""
    group = group_services.create_group(
        name="qwen-group", members=list(specs), balancing=balancing, **fields
    )
    group_services.grant_group(group, workspace, by=None)
    return group


def served_by(upstream) -> list[str]:
    return [request.body["model"] for request in upstream.requests_for("chat")]


def ledger(workspace) -> list[tuple[str, str, str]]:
    flush_usage()
    rows = UsageRecord.objects.filter(workspace=workspace).order_by("created_at")
    return [(row.model, row.status, row.error_code) for row in rows]


def test_the_group_is_one_model_name_on_every_surface(
    platform_url, granted, upstream, members, acme
):
    make_group(acme, MemberSpec("chat-a"), MemberSpec("chat-b"))
    upstream.script("chat", text("from the group"), text("通义"))
    sdk = client(platform_url, granted["acme_key"])
    assert "qwen-group" in {m.id for m in sdk.models.list()}
    answer = sdk.chat.completions.create(model="qwen-group", messages=HI)
    assert (answer.model, answer.choices[0].message.content) == ("qwen-group", "from the group")

    dashscope.base_http_api_url = f"{platform_url}/api/v1"
    reply = dashscope.Generation.call(api_key=granted["acme_key"], model="qwen-group", prompt="hi")
    assert reply.output.text == "通义"
    assert ledger(acme) == [("chat-a", "ok", ""), ("chat-a", "ok", "")]


def test_weighted_balancing_spreads_calls_by_weight(platform_url, granted, upstream, members, acme):
    make_group(acme, MemberSpec("chat-a", 3), MemberSpec("chat-b", 1), balancing="weighted")
    upstream.script("chat", *[text("ok")] * 60)
    sdk = client(platform_url, granted["acme_key"])
    for _ in range(60):
        sdk.chat.completions.create(model="qwen-group", messages=HI)
    counts = {model: served_by(upstream).count(model) for model in ("up-a", "up-b")}
    # 3:1 over 60 calls: 45 / 15 expected; these bounds fail by chance about once in 10^6.
    assert 30 <= counts["up-a"] <= 57 and counts["up-b"] >= 3, counts


def test_least_busy_sends_a_call_to_the_member_with_fewer_in_flight(
    platform_url, granted, upstream, members, acme
):
    make_group(acme, MemberSpec("chat-a"), MemberSpec("chat-b"))
    slow_answer = stream(["slow ", "an", "swer"], delay=0.6)  # within chat-a's 1 s timeout
    upstream.script("chat", slow_answer, text("quick"), text("again"))
    sdk = client(platform_url, granted["acme_key"])
    first_token = threading.Event()
    pieces: list[str] = []

    def slow_call():
        for chunk in sdk.chat.completions.create(model="qwen-group", messages=HI, stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
                first_token.set()

    caller = threading.Thread(target=slow_call)
    caller.start()
    assert first_token.wait(10)
    sdk.chat.completions.create(model="qwen-group", messages=HI)  # chat-a is busy
    caller.join(10)
    assert "".join(pieces) == "slow answer"
    sdk.chat.completions.create(model="qwen-group", messages=HI)  # both idle again
    assert served_by(upstream) == ["up-a", "up-b", "up-a"]


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        (error(429, "slow down", retry_after=1), "UpstreamRateLimitError"),
        (error(500, "boom"), "UpstreamServerError"),
        (error(503, "overloaded"), "UpstreamServerError"),
        (slow(2, text("too late")), "UpstreamTimeoutError"),
    ],
    ids=["429", "500", "503", "timeout"],
)
def test_a_failing_member_falls_back_to_the_next(
    platform_url, granted, upstream, members, acme, failure, code
):
    make_group(acme, MemberSpec("chat-a"), MemberSpec("chat-b"))
    upstream.script("chat", failure, text("from b"))
    answer = client(platform_url, granted["acme_key"]).chat.completions.create(
        model="qwen-group", messages=HI
    )
    assert answer.choices[0].message.content == "from b"
    assert served_by(upstream) == ["up-a", "up-b"]
    assert ledger(acme) == [("chat-a", "error", code), ("chat-b", "ok", "")]


def test_an_unreachable_member_falls_back(platform_url, granted, upstream, members, acme):
    gone = openai_settings(upstream) | {"base_url": f"http://127.0.0.1:{free_port()}/v1"}
    chat_endpoint("chat-gone", "up-gone", gone)
    make_group(acme, MemberSpec("chat-gone"), MemberSpec("chat-b"))
    upstream.script("chat", text("from b"))
    answer = client(platform_url, granted["acme_key"]).chat.completions.create(
        model="qwen-group", messages=HI
    )
    assert answer.choices[0].message.content == "from b"
    assert ledger(acme) == [("chat-gone", "error", "UpstreamConnectionError"), ("chat-b", "ok", "")]


def test_the_callers_own_mistake_does_not_fall_back(platform_url, granted, upstream, members, acme):
    make_group(acme, MemberSpec("chat-a"), MemberSpec("chat-b"))
    upstream.script("chat", error(400, "messages: too long", code="context_length_exceeded"))
    with pytest.raises(openai.BadRequestError):
        client(platform_url, granted["acme_key"]).chat.completions.create(
            model="qwen-group", messages=HI
        )
    assert served_by(upstream) == ["up-a"]


def test_when_every_member_fails_the_last_failure_is_the_callers(
    platform_url, granted, upstream, members, acme
):
    make_group(acme, MemberSpec("chat-a"), MemberSpec("chat-b"))
    upstream.script("chat", error(500, "a down"), error(429, "b busy", retry_after=3))
    with pytest.raises(openai.RateLimitError) as refused:
        client(platform_url, granted["acme_key"]).chat.completions.create(
            model="qwen-group", messages=HI
        )
    assert refused.value.response.headers["retry-after"] == "3"


def test_a_stream_falls_back_before_its_first_byte_not_after(
    platform_url, granted, upstream, members, acme
):
    make_group(acme, MemberSpec("chat-a"), MemberSpec("chat-b"))
    upstream.script("chat", error(503, "a down"), stream(["from ", "b"]))
    sdk = client(platform_url, granted["acme_key"])
    chunks = list(sdk.chat.completions.create(model="qwen-group", messages=HI, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "from b"

    # Once the answer has begun, a failure is the caller's: an error at the end, no retry.
    upstream.reset()
    upstream.script("chat", stream(["half"], hang_up=True), text("never"))
    with pytest.raises(openai.APIError):
        list(sdk.chat.completions.create(model="qwen-group", messages=HI, stream=True))
    assert served_by(upstream) == ["up-a"]


def test_a_member_that_keeps_failing_cools_down(
    platform_url, granted, upstream, members, acme, root
):
    group = make_group(acme, MemberSpec("chat-a"), MemberSpec("chat-b"), failures_to_cool_down=2)
    upstream.script("chat", error(500, "1"), text("b1"), error(500, "2"), text("b2"), text("b3"))
    sdk = client(platform_url, granted["acme_key"])
    for _ in range(3):
        assert sdk.chat.completions.create(model="qwen-group", messages=HI)
    # The third call went straight to chat-b: chat-a is cooling down after two failures.
    assert served_by(upstream) == ["up-a", "up-b", "up-a", "up-b", "up-b"]

    shown = ConsoleClient().as_user(root).get(f"/model-groups/{group.pk}").json()
    health = {member["endpoint"]: member for member in shown["members"]}
    assert health["chat-a"]["state"] == "cooling_down"
    assert 0 < health["chat-a"]["cooling_down_seconds"] <= 60
    assert health["chat-a"]["last_failure"]["error"] == "UpstreamServerError"
    assert health["chat-b"]["state"] == "healthy"


def test_per_endpoint_quotas_stay_exact(platform_url, granted, upstream, members, acme):
    """acme may call chat-a once a minute: its second call goes to chat-b, its third has
    no member left, and chat-a's count is not spent by calls it did not serve."""
    make_group(acme, MemberSpec("chat-a"), MemberSpec("chat-b"))
    Quota.objects.create(
        workspace=acme, endpoint=ModelEndpoint.objects.get(name="chat-a"), requests_per_minute=1
    )
    Quota.objects.create(
        workspace=acme, endpoint=ModelEndpoint.objects.get(name="chat-b"), requests_per_minute=1
    )
    upstream.script("chat", text("a"), text("b"))
    sdk = client(platform_url, granted["acme_key"])
    contents = [
        sdk.chat.completions.create(model="qwen-group", messages=HI).choices[0].message.content
        for _ in range(2)
    ]
    assert contents == ["a", "b"]
    with pytest.raises(openai.RateLimitError):
        sdk.chat.completions.create(model="qwen-group", messages=HI)
    assert served_by(upstream) == ["up-a", "up-b"]


def test_a_group_may_mix_providers(platform_url, granted, upstream, members, acme):
    native = endpoints.create_endpoint(
        name="qwen-native",
        provider="dashscope",
        upstream_model="qwen-plus",
        capabilities=["chat"],
        settings={"api_key": "sk-up", "base_url": upstream.dashscope_base_url},
    )
    make_group(acme, MemberSpec("chat-a"), MemberSpec(native.name))
    upstream.script("chat", error(502, "a down"))
    upstream.script("dashscope.generation", text("from DashScope"))
    answer = client(platform_url, granted["acme_key"]).chat.completions.create(
        model="qwen-group", messages=HI
    )
    assert answer.choices[0].message.content == "from DashScope"
    assert ledger(acme) == [("chat-a", "error", "UpstreamServerError"), ("qwen-native", "ok", "")]


def test_embeddings_fall_back_too(platform_url, granted, upstream, acme):
    settings = openai_settings(upstream)
    for name in ("embed-a", "embed-b"):
        endpoints.create_endpoint(
            name=name,
            provider="openai",
            upstream_model=f"up-{name}",
            capabilities=["embedding"],
            settings=settings,
            embedding_dimension=64,
        )
    group_services.grant_group(
        group_services.create_group(
            name="embed-group",
            members=[MemberSpec("embed-a"), MemberSpec("embed-b")],
            balancing="least_busy",
        ),
        acme,
        by=None,
    )
    upstream.script("embeddings", error(500, "a down"))
    vectors = client(platform_url, granted["acme_key"]).embeddings.create(
        model="embed-group", input=["x"]
    )
    assert len(vectors.data[0].embedding) == 64
    assert [r.body["model"] for r in upstream.requests_for("embeddings")] == [
        "up-embed-a",
        "up-embed-b",
    ]


def test_a_workspace_not_granted_the_group_cannot_call_it(
    platform_url, granted, upstream, members, acme
):
    make_group(acme, MemberSpec("chat-a"), MemberSpec("chat-b"))
    with pytest.raises(openai.NotFoundError):
        client(platform_url, granted["globex_key"]).chat.completions.create(
            model="qwen-group", messages=HI
        )
    assert upstream.requests_for("chat") == []


def test_the_response_cache_keeps_a_groups_answers(platform_url, granted, upstream, members, acme):
    make_group(acme, MemberSpec("chat-a"), MemberSpec("chat-b"))
    endpoints.set_response_cache(acme, "qwen-group", 600)
    upstream.script("chat", text("kept"))
    url = f"{platform_url}/compatible-mode/v1/chat/completions"
    headers = {"Authorization": f"Bearer {granted['acme_key']}"}
    body = {"model": "qwen-group", "messages": HI, "temperature": 0}
    marks = [httpx.post(url, json=body, headers=headers).headers["x-ministudio-cache"]]
    marks.append(httpx.post(url, json=body, headers=headers).headers["x-ministudio-cache"])
    assert marks == ["miss", "hit"]
