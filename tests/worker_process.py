"""A real Celery worker in a subprocess, for tests that kill one: it reaches the test
database and Redis, and runs in its own process group so it can be killed whole."""

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def start_worker(queues: str, **env: str) -> subprocess.Popen:
    """``ministudio worker --queues <queues> --concurrency 1``; ``env`` adds variables."""
    db = connection.settings_dict
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "studio.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'].replace('/', '%2F')}/{db['NAME']}",
        "REDIS_URL": settings.TEST_REDIS_URL,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "platform"), str(ROOT)]),
        "MINISTUDIO_DATA_DIR": str(settings.DATA_DIR),  # the same stored files
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "studio.cli", "worker", "--queues", queues, "--concurrency", "1"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: killed whole, children included
    )


def wait_for(condition: Callable, timeout: float, what: str):
    """``condition()``'s first truthy value, polled every 0.1 s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
