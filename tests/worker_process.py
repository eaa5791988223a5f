"""Real platform processes (Celery workers, web servers) in subprocesses, for tests that
kill one or run several: they reach the test database and Redis, and each runs in its own
process group so it can be killed whole."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def platform_environment(**env: str) -> dict[str, str]:
    """The environment of a platform process that shares this test's database, Redis and
    stored files; ``env`` adds variables."""
    db = connection.settings_dict
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "studio.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'].replace('/', '%2F')}/{db['NAME']}",
        "REDIS_URL": settings.TEST_REDIS_URL,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "platform"), str(ROOT)]),
        "MINISTUDIO_DATA_DIR": str(settings.DATA_DIR),  # the same stored files
        **env,
    }


def start_worker(queues: str, *, log: IO[str] | None = None, **env: str) -> subprocess.Popen:
    """``ministudio worker --queues <queues> --concurrency 1``; ``env`` adds variables. Its
    output goes to ``log``, or to a pipe the caller reads."""
    return _start(["worker", "--queues", queues, "--concurrency", "1"], log, env)


def start_web(port: int, *, log: IO[str], **env: str) -> subprocess.Popen:
    """``ministudio web`` on 127.0.0.1:``port``, one server process."""
    command = ["web", "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-sync"]
    return _start(command, log, env)


def _start(arguments: list[str], log: IO[str] | None, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "studio.cli", *arguments],
        env=platform_environment(**env),
        stdout=log or subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: killed whole, children included
    )


def stop(process: subprocess.Popen) -> None:
    """SIGKILL the process's whole group and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


def wait_for(condition: Callable, timeout: float, what: str, log: Path | None = None):
    """``condition()``'s first truthy value, polled every 0.1 s. On a timeout, the error
    ends with the last lines of ``log`` (a process's output), to say why."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.1)
    message = f"timed out waiting for {what}"
    if log is not None:
        message += "; its log ends:\n" + "\n".join(log.read_text().splitlines()[-30:])
    raise AssertionError(message)
