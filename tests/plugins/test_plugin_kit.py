"""The plugin kit's small pieces that providers and the platform share: the tool-call
assembler, the secret scrubber, the chat wire's common parts, upstream error helpers and the
one retry policy."""

import email.utils
import time
from types import SimpleNamespace

import pytest

from plugins import retrying
from plugins.base import ChatMessage, ChatRequest, ToolCall, ToolSpec, Usage
from plugins.chat_wire import chat_options, tool_calls_param
from plugins.scrubbing import scrub
from plugins.tool_calls import ToolCallAssembler, finish_reason_for
from plugins.upstream_errors import host_label, retry_after_seconds


def _object_fragment(index, call_id, name=None, arguments=None):
    return SimpleNamespace(
        index=index, id=call_id, function=SimpleNamespace(name=name, arguments=arguments)
    )


def test_fragments_as_dicts_and_as_objects_join_alike():
    as_dicts = ToolCallAssembler()
    as_dicts.add([{"index": 0, "id": "c1", "function": {"name": "calc", "arguments": '{"a"'}}])
    as_dicts.add([{"index": 0, "id": "", "function": {"arguments": ": 1}"}}])
    as_objects = ToolCallAssembler()
    as_objects.add([_object_fragment(0, "c1", "calc", '{"a"')])
    as_objects.add([_object_fragment(0, None, None, ": 1}")])
    expected = [ToolCall(id="c1", name="calc", arguments='{"a": 1}')]
    assert as_dicts.calls() == as_objects.calls() == expected


def test_a_repeated_name_is_kept_once_and_a_split_one_is_joined():
    assembler = ToolCallAssembler()
    assembler.add([{"index": 0, "function": {"name": "get_", "arguments": ""}}])
    assembler.add([{"index": 0, "function": {"name": "weather", "arguments": "{}"}}])
    assembler.add([{"index": 1, "function": {"name": "now"}}])
    assembler.add([{"index": 1, "function": {"name": "now", "arguments": "{}"}}])
    assert assembler.calls() == [
        ToolCall(id="call_0", name="get_weather", arguments="{}"),
        ToolCall(id="call_1", name="now", arguments="{}"),
    ]


def test_fragments_without_an_index_are_keyed_by_id_or_position():
    assembler = ToolCallAssembler()
    assembler.add([{"id": "a", "function": {"name": "x"}}, {"function": {"name": "y"}}])
    assert [(c.id, c.name) for c in assembler.calls()] == [("a", "x"), ("call_1", "y")]


def test_the_last_chunk_says_why_the_answer_ended():
    assembler = ToolCallAssembler()
    assert assembler.last_chunk(None, None).finish_reason == "stop"
    assembler.add([{"index": 0, "id": "c", "function": {"name": "now", "arguments": "{}"}}])
    last = assembler.last_chunk(None, Usage(input_tokens=1))
    assert (last.finish_reason, last.usage.input_tokens) == ("tool_calls", 1)
    assert last.tool_calls == [ToolCall(id="c", name="now", arguments="{}")]
    assert finish_reason_for("length", last.tool_calls) == "length"


def test_scrub_masks_secrets_and_their_encoded_forms_however_deep():
    secret = "p@ss word/1"
    value = {
        "plain": f"key={secret}",
        "query": "key=p%40ss%20word%2F1 and key=p%40ss+word%2F1",
        "nested": [f"<{secret}>", 7, None],
        secret: "as a key",
    }
    assert scrub(value, [secret]) == {
        "plain": "key=***",
        "query": "key=*** and key=***",
        "nested": ["<***>", 7, None],
        "***": "as a key",
    }


def test_scrub_replaces_longer_secrets_first_and_skips_short_or_missing_ones():
    assert scrub("abcdef and abc", ["abc", "abcdef"]) == "*** and ***"
    assert scrub("key abc", ["abc"], min_length=4) == "key abc"
    assert scrub("key abcd", [None, "", "abcd"], min_length=4) == "key ***"
    assert scrub(42, ["42"]) == 42


def test_chat_options_leave_out_what_the_request_leaves_unset():
    request = ChatRequest(model="m", messages=[ChatMessage(role="user", content="hi")])
    assert chat_options(request) == {}
    request = request.model_copy(
        update={"tools": [ToolSpec(name="now")], "temperature": 0.0, "stop": ["x"]}
    )
    assert chat_options(request) == {
        "tools": [
            {"type": "function", "function": {"name": "now", "parameters": {"type": "object"}}}
        ],
        "temperature": 0.0,
        "stop": ["x"],
    }
    assert tool_calls_param([ToolCall(id="c", name="now", arguments="{}")]) == [
        {"id": "c", "type": "function", "function": {"name": "now", "arguments": "{}"}}
    ]


def test_upstream_error_helpers():
    assert host_label("https://user:pw@api.example.com:8443/v1") == "api.example.com:8443"
    assert host_label("http://h:notaport/v1") == "h"
    assert host_label("no url") == "the configured base URL"
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("-3") == 0.0
    assert retry_after_seconds("soon") is None
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < retry_after_seconds(later) <= 30
    assert pytest.approx(retry_after_seconds("1.5")) == 1.5


# --- the one retry policy ------------------------------------------------------------------------

#: (status, headers) of failed answers, and whether each is worth another try.
RETRY_CASES = [
    (408, {}, True),
    (409, {}, True),
    (429, {}, True),
    (500, {}, True),
    (502, {}, True),
    (503, {"Retry-After": "3"}, True),
    (504, {}, True),
    (400, {}, False),
    (401, {}, False),
    (403, {}, False),
    (404, {}, False),
    (422, {}, False),
    (429, {"Retry-After": "120"}, True),
    (429, {"Retry-After": "121"}, False),
    (503, {"retry-after-ms": "121000"}, False),
    (429, {"retry-after-ms": "500", "Retry-After": "999"}, True),
    (429, {"Retry-After": "soon"}, True),
    (429, {"Retry-After": "inf"}, True),
    (400, {"x-should-retry": "true"}, True),
    (500, {"X-Should-Retry": "false"}, False),
]


@pytest.mark.parametrize(("status", "headers", "expected"), RETRY_CASES)
def test_which_failures_are_retried(status, headers, expected):
    assert retrying.should_retry(status, headers) is expected


def test_no_answer_is_always_worth_another_try():
    assert retrying.should_retry(None) is True


@pytest.mark.parametrize(("status", "headers", "expected"), RETRY_CASES)
def test_the_policy_is_the_openai_sdks(status, headers, expected):
    """The OpenAI-compatible provider's retries are the ``openai`` SDK's; the kit's must be
    the same, so both providers follow one policy (this fails if the SDK changes its own)."""
    import httpx2
    import openai
    from openai import _constants

    client = openai.OpenAI(api_key="k", base_url="http://127.0.0.1:9/v1")
    assert client._should_retry(httpx2.Response(status, headers=headers)) is expected
    assert (retrying.INITIAL_DELAY, retrying.MAX_DELAY, retrying.MAX_RETRY_AFTER) == (
        _constants.INITIAL_RETRY_DELAY,
        _constants.MAX_RETRY_DELAY,
        _constants.MAX_RETRY_AFTER_DELAY,
    )


def test_retry_delays_follow_the_server_else_back_off():
    assert retrying.retry_delay(0, {"Retry-After": "3"}) == 3.0
    assert retrying.retry_delay(5, {"retry-after": "0.05"}) == 0.05
    assert retrying.retry_delay(0, {"retry-after-ms": "250", "Retry-After": "9"}) == 0.25
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < retrying.retry_delay(0, {"Retry-After": later}) <= 30
    for headers in (None, {}, {"Retry-After": "0"}, {"Retry-After": "-1"}, {"Retry-After": "x"}):
        assert 0.375 <= retrying.retry_delay(0, headers) <= 0.5
    for taken, longest in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        delays = [retrying.backoff(taken) for _ in range(50)]
        assert all(0.75 * longest <= delay <= longest for delay in delays)
    assert retrying.backoff(10_000) <= 8.0


def test_retries_are_counted_per_request():
    retries = retrying.Retries(2, upstream="h")
    assert retries.delay_after(400) is None  # not retried, and not counted
    assert retries.delay_after(429, {"Retry-After": "1"}) == 1.0
    assert retries.delay_after(None) is not None
    assert retries.delay_after(503) is None  # none left
    assert retries.taken == 2
    assert retrying.Retries(0).delay_after(503) is None
