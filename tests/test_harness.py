"""The harness itself: real Postgres with pgvector, real Redis, Celery eager and real."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from workers.celery_app import app as celery_app
from workers.health import ping

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_database_is_postgres_with_pgvector_and_hnsw():
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        (version,) = cursor.fetchone()
        cursor.execute("SELECT amname FROM pg_am WHERE amname = 'hnsw'")
        assert cursor.fetchone() == ("hnsw",)
        cursor.execute("SELECT '[1,2,3]'::vector <=> '[1,2,4]'::vector")
        (distance,) = cursor.fetchone()
    assert connection.vendor == "postgresql"
    assert tuple(int(p) for p in version.split(".")) >= (0, 8, 0)
    assert 0 < distance < 0.05


def test_cache_is_the_real_redis():
    cache.set("harness-probe", {"n": 1}, 30)
    direct = redis.Redis.from_url(settings.TEST_REDIS_URL)
    assert any(b"harness-probe" in key for key in direct.keys("*"))
    assert cache.get("harness-probe") == {"n": 1}


@pytest.mark.django_db
def test_celery_runs_eagerly_in_unit_tests():
    result = ping.delay()
    assert result.get(timeout=1)["pong"] is True
    assert result.get()["worker_pid"] == os.getpid()  # ran in this very process


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_process_runs_a_task_through_redis():
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "studio.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'].replace('/', '%2F')}/{db['NAME']}",
        "REDIS_URL": settings.TEST_REDIS_URL,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "platform"), str(ROOT)]),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "studio.cli", "worker", "--queues", "default", "--concurrency", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    celery_app.conf.task_always_eager = False
    try:
        answer = ping.apply_async(queue="default").get(timeout=60)
    finally:
        celery_app.conf.task_always_eager = True
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
    assert answer["pong"] is True
    assert answer["worker_pid"] != os.getpid()
    assert answer["database_version"].startswith("18")
    assert "workers.health.ping" in output and "succeeded" in output, output


def test_the_web_process_sends_tasks_to_the_configured_broker():
    """Django loads the ministudio Celery app, so `.delay()` never falls back to a default."""
    from celery import current_app

    assert current_app.main == "ministudio"
    assert current_app.conf.broker_url == settings.CELERY_BROKER_URL
    assert {q.name for q in current_app.conf.task_queues} == {
        "ingest",
        "batch",
        "batch-vllm",
        "default",
    }
    # Each send names its queue (kernel.queueing; tests/test_workers.py): no routing by name.
    assert not current_app.conf.task_routes


def test_a_plain_worker_leaves_the_vllm_engine_queue_to_gpu_workers():
    from studio.cli import _parser

    queues = _parser().parse_args(["worker"]).queues.split(",")
    assert set(queues) == {"ingest", "batch", "default"}
