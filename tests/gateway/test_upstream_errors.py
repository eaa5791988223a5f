"""One upstream error mapping for every surface: each ``UpstreamError`` kind carries the
status, code and retry hint its caller gets, streaming or not; a 502 names what failed and
the request id, never the upstream's host:port or raw body (those go to the log)."""

import json
import logging

import dashscope
import httpx
import openai
import pytest
from dashscope import Generation

from apps.gateway.streaming import error_event
from apps.gateway.wire.dashscope import GenerationParameters, generation_frames
from apps.gateway.wire.openai import completion_frames
from plugins.base import (
    ChatChunk,
    UpstreamAuthenticationError,
    UpstreamBadRequestError,
    UpstreamConnectionError,
    UpstreamRateLimitError,
    UpstreamServerError,
    UpstreamTimeoutError,
)
from tests.upstream import error, hang_up, raw, slow

pytestmark = pytest.mark.django_db(transaction=True)

SECRET_BODY = "stack trace at inference-7.internal:9000 /opt/model/serve.py"
HELLO = {"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("kind", "status", "code", "openai_code"),
    [
        (UpstreamRateLimitError, 429, "Throttling", "rate_limit_exceeded"),
        (UpstreamBadRequestError, 400, "InvalidParameter.Upstream", "upstream_bad_request"),
        (UpstreamTimeoutError, 504, "RequestTimeOut", "upstream_timeout"),
        (
            UpstreamAuthenticationError,
            502,
            "InternalError.UpstreamAuthentication",
            "upstream_authentication_failed",
        ),
        (
            UpstreamConnectionError,
            502,
            "InternalError.UpstreamUnreachable",
            "upstream_unreachable",
        ),
        (UpstreamServerError, 502, "InternalError.Upstream", "upstream_error"),
    ],
)
def test_each_kind_declares_what_its_caller_gets(kind, status, code, openai_code):
    from kernel.errors import OPENAI_CODES, upstream_failure

    exc = kind("Model server 10.0.0.7:8000 failed: raw body", upstream="10.0.0.7:8000")
    failure = upstream_failure(exc, "req-1")
    assert (failure.status, failure.code, OPENAI_CODES[failure.code]) == (
        status,
        code,
        openai_code,
    )
    assert "10.0.0.7" not in failure.message and "raw body" not in failure.message
    assert failure.message.endswith("Request id: req-1.")


def _failing_after_one_chunk():
    yield ChatChunk(content="Hel")
    raise UpstreamRateLimitError("Model server 10.0.0.7:8000 is busy", retry_after=3)


def test_a_429_mid_stream_keeps_its_status_code_and_retry_hint_on_every_surface():
    openai_frames = list(
        completion_frames(
            _failing_after_one_chunk(), model="m", include_usage=False, request_id="req-2"
        )
    )
    failure = json.loads(openai_frames[-2].removeprefix("data: "))["error"]
    assert (failure["code"], failure["type"], failure["retry_after"]) == (
        "rate_limit_exceeded",
        "rate_limit_error",
        3,
    )
    assert openai_frames[-1] == "data: [DONE]\n\n"

    dashscope_frames = list(
        generation_frames(
            _failing_after_one_chunk(), parameters=GenerationParameters(), request_id="req-2"
        )
    )
    last = dashscope_frames[-1]
    assert "event:error" in last and ":HTTP_STATUS/429" in last
    data = json.loads(last.split("data:", 1)[1])
    assert (data["code"], data["retry_after"], data["request_id"]) == ("Throttling", 3, "req-2")
    assert "10.0.0.7" not in data["message"]

    console = error_event(UpstreamRateLimitError("busy", retry_after=3), "req-2")
    assert json.loads(console.split("data: ", 1)[1]) == {
        "code": "Throttling",
        "message": "The model server is rate limiting requests; retry after 3 s. "
        "Request id: req-2.",
        "retry_after": 3,
    }


def test_an_upstream_429_refuses_a_stream_before_it_starts(
    platform_url, granted, upstream, monkeypatch
):
    """The first upstream chunk is awaited before the response starts, so a stream is
    refused with 429 and Retry-After like a plain call, on both surfaces."""
    upstream.script("chat", error(429, "upstream busy", retry_after=4))
    client = openai.OpenAI(
        base_url=f"{platform_url}/compatible-mode/v1", api_key=granted["acme_key"], max_retries=0
    )
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(**HELLO, stream=True)
    assert limited.value.response.headers["retry-after"] == "4"
    assert limited.value.body["code"] == "rate_limit_exceeded"

    upstream.script("chat", error(429, "upstream busy", retry_after=4))
    response = httpx.post(
        f"{platform_url}/api/v1/services/aigc/text-generation/generation",
        json={"model": "qwen-plus", "input": {"prompt": "hi"}},
        headers={"Authorization": f"Bearer {granted['acme_key']}", "X-DashScope-SSE": "enable"},
    )
    assert (response.status_code, response.headers["retry-after"]) == (429, "4")
    assert response.json()["code"] == "Throttling"


@pytest.mark.parametrize(
    "reply",
    [
        raw(500, SECRET_BODY),
        error(500, SECRET_BODY),
        error(401, f"Incorrect API key sk-up {SECRET_BODY}"),
        hang_up(),
    ],
    ids=["raw-500", "json-500", "401", "hang-up"],
)
def test_a_502_says_what_failed_and_the_request_id_never_the_host(
    platform_url, granted, upstream, caplog, monkeypatch, reply
):
    host = upstream.openai_base_url.split("//")[1].split("/")[0]
    upstream.script("chat", reply)
    caplog.set_level(logging.WARNING, logger="kernel.errors")
    client = openai.OpenAI(
        base_url=f"{platform_url}/compatible-mode/v1", api_key=granted["acme_key"], max_retries=0
    )
    with pytest.raises(openai.APIStatusError) as failed:
        client.chat.completions.create(**HELLO)
    assert failed.value.status_code == 502
    message = failed.value.body["message"]
    request_id = failed.value.response.headers["x-request-id"]
    assert f"Request id: {request_id}." in message
    assert host not in message and "inference-7" not in message and "sk-up" not in message
    # The operator's log has what the tenant was not told, under the same request id.
    logged = [r.getMessage() for r in caplog.records if request_id in r.getMessage()]
    assert logged and host in logged[0]

    upstream.script("chat", reply)
    monkeypatch.setattr(dashscope, "base_http_api_url", f"{platform_url}/api/v1")
    answer = Generation.call(model="qwen-plus", prompt="hi", api_key=granted["acme_key"])
    assert answer.status_code == 502 and answer.code.startswith("InternalError.Upstream")
    assert host not in answer.message and answer.request_id in answer.message


def test_a_timeout_is_504_on_both_surfaces(platform_url, granted, upstream, monkeypatch):
    upstream.script("chat", slow(3))
    monkeypatch.setattr(dashscope, "base_http_api_url", f"{platform_url}/api/v1")
    answer = Generation.call(model="qwen-plus", prompt="hi", api_key=granted["acme_key"])
    assert (answer.status_code, answer.code) == (504, "RequestTimeOut")


def test_an_upstreams_reason_for_a_400_reaches_the_caller(platform_url, granted, upstream):
    upstream.script(
        "chat", error(400, "This model's maximum context length is 8 tokens", code="ctx_len")
    )
    client = openai.OpenAI(
        base_url=f"{platform_url}/compatible-mode/v1", api_key=granted["acme_key"], max_retries=0
    )
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(**HELLO)
    assert refused.value.body["code"] == "ctx_len"
    assert "maximum context length is 8 tokens" in refused.value.body["message"]
