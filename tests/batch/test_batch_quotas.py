"""A batch keeps to its workspace's quotas: a full rate waits, a spent allocation fails."""

import pytest

from apps.usage.models import Quota
from tests.batch.conftest import chat_line, jsonl, output_lines, wait_until_done
from tests.upstream import slow

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def most_at_once(requests) -> int:
    """The largest number of the upstream's requests that overlapped in time."""
    moments = sorted(
        [(r.received_at, 1) for r in requests] + [(r.finished_at, -1) for r in requests]
    )
    running = peak = 0
    for _, step in moments:
        running += step
        peak = max(peak, running)
    return peak


def test_a_concurrency_quota_makes_lines_wait_not_fail(sdk, upstream, settings, acme, batch_worker):
    settings.BATCH_CONCURRENCY = 6
    Quota.objects.create(workspace=acme, concurrent_requests=2)
    upstream.script("chat", *[slow(0.3)] * 8)
    f = sdk.files.create(
        file=jsonl([chat_line(f"r{i}", f"q{i}") for i in range(8)]), purpose="batch"
    )
    b = sdk.batches.create(
        input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    b = wait_until_done(sdk, b.id, timeout=90)
    assert b.status == "completed"
    assert (b.request_counts.completed, b.request_counts.failed) == (8, 0)
    sent = upstream.requests_for("chat")
    assert len(sent) == 8
    assert most_at_once(sent) <= 2


def test_a_spent_token_allocation_fails_the_remaining_lines(sdk, upstream, acme, batch_worker):
    Quota.objects.create(workspace=acme, tokens_per_day=10)
    f = sdk.files.create(
        file=jsonl([chat_line(f"r{i}", "a question", max_tokens=500) for i in range(3)]),
        purpose="batch",
    )
    b = sdk.batches.create(
        input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    b = wait_until_done(sdk, b.id)
    assert b.status == "completed"
    assert (b.request_counts.completed, b.request_counts.failed) == (0, 3)
    errors = output_lines(sdk, b.error_file_id)
    assert {line["error"]["code"] for line in errors} == {"insufficient_quota"}
    assert {line["response"]["status_code"] for line in errors} == {429}
    assert upstream.requests_for("chat") == []
