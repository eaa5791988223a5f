"""Fixtures for batch tests: the OpenAI SDK on the live platform, and a real Celery worker
consuming the ``batch`` queue in a thread of this process (so it shares the test database).
"""

import io
import json

import openai
import pytest
from celery.contrib.testing.worker import start_worker

from apps.batch.models import Batch
from tests.worker_process import wait_for
from workers.celery_app import app as celery_app


@pytest.fixture
def sdk(platform_url, granted) -> openai.OpenAI:
    """acme's program, as Bailian's batch documentation writes it."""
    return openai.OpenAI(
        base_url=f"{platform_url}/compatible-mode/v1", api_key=granted["acme_key"], max_retries=0
    )


@pytest.fixture
def globex_sdk(platform_url, granted) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{platform_url}/compatible-mode/v1", api_key=granted["globex_key"], max_retries=0
    )


@pytest.fixture
def batch_worker(transactional_db):
    """A real worker on the ``batch`` queue, tasks sent through Redis (not run eagerly)."""
    celery_app.conf.task_always_eager = False
    try:
        with start_worker(
            celery_app,
            pool="threads",
            concurrency=2,
            queues=["batch"],
            perform_ping_check=False,
            shutdown_timeout=30,
        ) as worker:
            yield worker
    finally:
        celery_app.conf.task_always_eager = True


def jsonl(requests: list[dict]) -> io.BytesIO:
    buffer = io.BytesIO("\n".join(json.dumps(r, ensure_ascii=False) for r in requests).encode())
    buffer.name = "requests.jsonl"
    return buffer


def chat_line(custom_id: str, content: str, *, model: str = "qwen-plus", **body) -> dict:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": model, "messages": [{"role": "user", "content": content}], **body},
    }


def wait_until_done(client: openai.OpenAI, batch_id: str, timeout: float = 60):
    ended = {"completed", "failed", "expired", "cancelled"}
    return wait_for(
        lambda: (b := client.batches.retrieve(batch_id)).status in ended and b,
        timeout,
        f"batch {batch_id} to end",
    )


def output_lines(client: openai.OpenAI, file_id: str | None) -> list[dict]:
    if file_id is None:
        return []
    return [json.loads(line) for line in client.files.content(file_id).text.splitlines()]


def stored(batch_id: str) -> Batch:
    return Batch.objects.get(pk=batch_id)


@pytest.fixture
def celery_not_eager():
    """Tasks go to Redis and stay there: no worker runs them (batches stay queued)."""
    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = True
