"""The Celery side's wiring: declared queues, the beat schedule's tasks, sends by name."""

from importlib import import_module

import pytest

from kernel import queueing
from workers.celery_app import app
from workers.entry import worker_arguments
from workers.queues import PLAIN_WORKER_QUEUES, QUEUES
from workers.schedule import BEAT_SCHEDULE


def test_the_senders_queues_are_the_declared_ones():
    senders = {queueing.INGEST, queueing.BATCH, queueing.BATCH_VLLM, queueing.DEFAULT}
    assert senders == set(QUEUES) == {queue.name for queue in app.conf.task_queues}
    assert set(PLAIN_WORKER_QUEUES) == set(QUEUES) - {queueing.BATCH_VLLM}


def test_each_periodic_task_is_a_task_of_the_app_and_names_its_queue():
    for module in app.conf.include:
        import_module(module)
    assert app.conf.beat_schedule == BEAT_SCHEDULE
    for entry in BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks
        assert entry["options"]["queue"] in QUEUES


def test_a_send_to_a_queue_nobody_declared_is_refused():
    with pytest.raises(ValueError, match="not one of the app's"):
        queueing.enqueue("usage.flush", queue="usage")


def test_the_worker_command_line():
    assert worker_arguments("ingest,default", beat_schedule="/data/beat", concurrency=2) == [
        "worker",
        "--queues",
        "ingest,default",
        "--loglevel",
        "INFO",
        "--beat",
        "--schedule",
        "/data/beat",
        "--concurrency",
        "2",
    ]
