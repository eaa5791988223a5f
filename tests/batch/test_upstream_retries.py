"""One retry policy for a batch's upstream failures: the batch does not retry them, the
endpoint's provider does (``max_retries``), whichever provider it is, so a line that meets
one upstream 429 ends succeeded, after exactly one more upstream request."""

import pytest

from apps.model_endpoints import services as endpoints
from tests.batch.conftest import chat_line, jsonl, output_lines, wait_until_done
from tests.gateway_fixtures import openai_settings
from tests.upstream import error, text

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

#: Per provider: the endpoint's settings on the stub (one retry allowed), and its chat route.
PROVIDERS = {
    "dashscope": (
        lambda upstream: {
            "api_key": "sk-up",
            "base_url": upstream.dashscope_base_url,
            "max_retries": 1,
            "timeout_seconds": 2,
        },
        "dashscope.generation",
    ),
    "openai": (lambda upstream: openai_settings(upstream) | {"max_retries": 1}, "chat"),
}


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_a_line_that_meets_one_upstream_429_ends_succeeded(
    sdk, upstream, acme, batch_worker, provider
):
    settings_for, route = PROVIDERS[provider]
    endpoint = endpoints.create_endpoint(
        name="retried-chat",
        provider=provider,
        upstream_model="up-retried",
        capabilities=["chat"],
        settings=settings_for(upstream),
    )
    endpoints.grant(endpoint, acme, by=None)
    upstream.script(route, error(429, "slow down", retry_after=0.05), text("answered"))
    f = sdk.files.create(
        file=jsonl([chat_line("only", "hello", model="retried-chat")]), purpose="batch"
    )
    b = sdk.batches.create(
        input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    b = wait_until_done(sdk, b.id)
    assert b.status == "completed"
    assert (b.request_counts.completed, b.request_counts.failed) == (1, 0)
    [line] = output_lines(sdk, b.output_file_id)
    assert line["response"]["status_code"] == 200
    assert line["response"]["body"]["choices"][0]["message"]["content"] == "answered"
    sent = upstream.requests_for(route)
    assert len(sent) == 2 and {r.body["model"] for r in sent} == {"up-retried"}
    assert sent[1].received_at - sent[0].received_at >= 0.05
