"""A 5,000-line batch end to end, and a real worker process killed in the middle of one:
its successor resumes, and the output has every custom_id exactly once."""

import json
import os
import signal
from collections import Counter

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from apps.batch import services
from apps.batch.inputs import batch_storage
from apps.batch.models import Batch, BatchResult
from tests.batch.conftest import chat_line, jsonl, output_lines, wait_for, wait_until_done
from tests.upstream import slow
from tests.worker_process import start_worker as start_batch_worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_five_thousand_line_batch(sdk, upstream, batch_worker):
    requests = [chat_line(f"req-{i:05d}", f"question number {i}") for i in range(5000)]
    f = sdk.files.create(file=jsonl(requests), purpose="batch")
    assert f.bytes > 500_000
    b = sdk.batches.create(
        input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    b = wait_until_done(sdk, b.id, timeout=600)
    assert b.status == "completed"
    assert (b.request_counts.total, b.request_counts.completed) == (5000, 5000)
    lines = output_lines(sdk, b.output_file_id)
    assert [line["custom_id"] for line in lines] == [r["custom_id"] for r in requests]
    # The scripted upstream echoes the question: each answer belongs to its own line.
    for line in lines[::499]:
        number = int(line["custom_id"].split("-")[1])
        content = line["response"]["body"]["choices"][0]["message"]["content"]
        assert content == f"echo: question number {number}"
    assert len(upstream.requests_for("chat")) == 5000


def start_worker():
    return start_batch_worker(
        "batch",
        MINISTUDIO_BATCH_LEASE_SECONDS="3",  # a dead worker's batch is free again soon
        MINISTUDIO_BATCH_CONCURRENCY="4",
    )


def test_a_killed_worker_is_resumed_without_losing_or_repeating_lines(
    acme, alice, upstream, granted, celery_not_eager
):
    total = 300
    upstream.script("chat", *[slow(0.05)] * total)
    content = jsonl([chat_line(f"req-{i}", f"q{i}") for i in range(total)]).getvalue()
    file = services.upload_file(acme, SimpleUploadedFile("big.jsonl", content), "batch")
    first = start_worker()
    second = None
    try:
        batch = services.create_batch(
            acme, input_file=file, endpoint="/v1/chat/completions", completion_window="24h"
        )
        wait_for(
            lambda: BatchResult.objects.filter(batch=batch).count() >= 40,
            60,
            "the first worker to be half-way",
        )
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        killed = Batch.objects.get(pk=batch.pk)
        assert killed.status == "in_progress" and killed.lease_owner
        assert 40 <= BatchResult.objects.filter(batch=batch).count() < total
        # The dead worker's lease lapses; a worker starting after that takes the batch up.
        wait_for(
            lambda: Batch.objects.get(pk=batch.pk).lease_expires_at < timezone.now(),
            10,
            "the lease to lapse",
        )
        second = start_worker()
        finished = wait_for(
            lambda: Batch.objects.filter(pk=batch.pk, status="completed").first(),
            120,
            "the second worker to finish the batch",
        )
    finally:
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
                worker.wait(30)
    assert finished.attempts == 2
    assert finished.completed == total and finished.failed == 0
    with batch_storage().open(finished.output_file.storage_key, "rb") as out:
        ids = Counter(json.loads(line)["custom_id"] for line in out)
    assert ids == Counter({f"req-{i}": 1 for i in range(total)})
    # Lines the first worker had finished were not sent again: at most those in flight were.
    assert total <= len(upstream.requests_for("chat")) <= total + 4
