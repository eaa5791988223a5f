"""Cancel, expiry and tenancy of batches, with a real worker running them."""

import json
from datetime import timedelta

import openai
import pytest
from django.utils import timezone

from apps.batch.execution import run_batch
from apps.batch.models import Batch, BatchResult
from apps.batch.services import resume_stalled
from tests.batch.conftest import (
    chat_line,
    jsonl,
    output_lines,
    stored,
    wait_for,
    wait_until_done,
)
from tests.upstream import slow
from workers.celery_app import app as celery_app

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def start_slow_batch(sdk, upstream, settings, lines: int = 40) -> str:
    settings.BATCH_CONCURRENCY = 2
    upstream.script("chat", *[slow(0.2)] * lines)
    f = sdk.files.create(
        file=jsonl([chat_line(f"req-{i}", f"q{i}") for i in range(lines)]), purpose="batch"
    )
    b = sdk.batches.create(
        input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    wait_for(lambda: BatchResult.objects.filter(batch_id=b.id).count() >= 4, 30, "some lines")
    return b.id


def test_cancel_stops_new_lines_and_keeps_partial_output(sdk, upstream, settings, batch_worker):
    batch_id = start_slow_batch(sdk, upstream, settings)
    cancelling = sdk.batches.cancel(batch_id)
    assert cancelling.status == "cancelling" and cancelling.cancelling_at
    b = wait_until_done(sdk, batch_id, timeout=30)
    assert b.status == "cancelled" and b.cancelled_at
    lines = output_lines(sdk, b.output_file_id)
    ids = [line["custom_id"] for line in lines]
    assert 4 <= len(ids) < 40 and len(set(ids)) == len(ids)
    assert b.request_counts.completed == len(ids) and b.request_counts.total == 40
    # Cancelling stopped new lines at once: at most those in flight ran after it.
    assert len(upstream.requests_for("chat")) <= len(ids) + 2
    assert sdk.batches.cancel(batch_id).status == "cancelled"  # cancelling again is harmless


def test_a_batch_past_its_window_expires_reporting_the_lines_not_run(
    sdk, upstream, settings, batch_worker
):
    batch_id = start_slow_batch(sdk, upstream, settings)
    Batch.objects.filter(pk=batch_id).update(expires_at=timezone.now())
    b = wait_until_done(sdk, batch_id, timeout=30)
    assert b.status == "expired" and b.expired_at
    done = output_lines(sdk, b.output_file_id)
    expired = output_lines(sdk, b.error_file_id)
    assert {line["error"]["code"] for line in expired} == {"batch_expired"}
    assert all(line["response"] is None for line in expired)
    ids = [line["custom_id"] for line in done + expired]
    assert sorted(ids) == sorted(f"req-{i}" for i in range(40))
    assert (b.request_counts.completed, b.request_counts.failed) == (len(done), len(expired))


def test_a_batch_queued_past_its_window_expires_without_running(sdk, upstream, celery_not_eager):
    f = sdk.files.create(file=jsonl([chat_line("a", "x")]), purpose="batch")
    b = sdk.batches.create(
        input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    Batch.objects.filter(pk=b.id).update(expires_at=timezone.now())
    assert run_batch(b.id, "test-worker") == "expired"
    assert stored(b.id).status == "expired"
    assert upstream.requests_for("chat") == []


def test_another_workspace_sees_none_of_it(sdk, globex_sdk, upstream):
    f = sdk.files.create(file=jsonl([chat_line("a", "x")]), purpose="batch")
    b = sdk.batches.create(
        input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    b = sdk.batches.retrieve(b.id)
    calls = [
        lambda: globex_sdk.files.retrieve(f.id),
        lambda: globex_sdk.files.content(f.id),
        lambda: globex_sdk.files.content(b.output_file_id),
        lambda: globex_sdk.files.delete(f.id),
        lambda: globex_sdk.batches.retrieve(b.id),
        lambda: globex_sdk.batches.cancel(b.id),
        lambda: globex_sdk.batches.create(
            input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h"
        ),
    ]
    for call in calls:
        with pytest.raises(openai.NotFoundError):
            call()
    assert list(globex_sdk.files.list()) == []
    assert list(globex_sdk.batches.list()) == []
    # acme's are untouched
    assert json.loads(sdk.files.content(f.id).text)["custom_id"] == "a"
    assert sdk.batches.retrieve(b.id).status == "completed"


def test_files_and_batches_need_a_key(platform_url, granted):
    anonymous = openai.OpenAI(
        base_url=f"{platform_url}/compatible-mode/v1", api_key="sk-wrong", max_retries=0
    )
    with pytest.raises(openai.AuthenticationError):
        anonymous.files.list()
    with pytest.raises(openai.AuthenticationError):
        anonymous.batches.list()


def test_the_sweep_resumes_a_batch_whose_worker_died(sdk, upstream, celery_not_eager):
    f = sdk.files.create(file=jsonl([chat_line("a", "x"), chat_line("b", "y")]), purpose="batch")
    b = sdk.batches.create(
        input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    # A worker took it and died: its lease lapsed, nobody runs it.
    Batch.objects.filter(pk=b.id).update(
        lease_owner="dead-worker", lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    running = Batch.objects.create(
        workspace=stored(b.id).workspace,
        input_file_id=f.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        expires_at=timezone.now() + timedelta(hours=24),
        lease_owner="live-worker",
        lease_expires_at=timezone.now() + timedelta(minutes=1),
        enqueued_at=timezone.now(),
    )
    celery_app.conf.task_always_eager = True  # run what the sweep queues, here
    assert resume_stalled() == 1  # the live worker's batch is left alone
    assert stored(b.id).status == "completed"
    assert stored(running.pk).status == "validating"
