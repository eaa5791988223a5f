"""`ministudio up` outlives a crashed child: each of its processes killed with SIGKILL in
turn comes back while the others keep their pids, and a crash loop stops everything.

A real `up` (embedded Postgres and Redis, web, worker with embedded beat) under a short
temporary data directory, as in test_cli_up.py. Every wait polls a condition with a bound.
"""

import contextlib
import json
import os
import re
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest
import redis
from celery import Celery

from studio.cli.supervisor import CrashLoop, Restarter, RestartPolicy
from tests.test_cli_up import (
    START_TIMEOUT,
    Instance,
    assert_nothing_left,
    data_dir,
    kill_everything_of,
)

__all__ = ["data_dir"]  # the fixture, shared with test_cli_up.py

RECOVERY_TIMEOUT = 60.0
# One worker process (not one per CPU) keeps the test light on a small machine.
ENV = {"WORKER_CONCURRENCY": "1", "MINISTUDIO_RESTART_LIMIT": "3"}


def wait_until(condition: Callable[[], object], what: str, instance: Instance) -> object:
    deadline = time.monotonic() + RECOVERY_TIMEOUT
    while time.monotonic() < deadline:
        if instance.process.poll() is not None:
            pytest.fail(f"`up` exited with {instance.process.returncode}:\n{instance.output}")
        if value := condition():
            return value
        time.sleep(0.2)
    pytest.fail(f"{what} not within {RECOVERY_TIMEOUT:.0f}s:\n{instance.output}")


def service_pids(data_dir: Path) -> dict[str, int | None]:
    """The pid of each service now: web and worker from up.lock, Postgres from its
    postmaster.pid, Redis from itself (None while one is unknown: being rewritten, down)."""
    pids: dict[str, int | None] = {"web": None, "worker": None, "postgres": None}
    with contextlib.suppress(OSError, ValueError, KeyError):
        pids.update(json.loads((data_dir / "up.lock").read_text())["children"])
    with contextlib.suppress(OSError, ValueError, IndexError):
        pids["postgres"] = int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
    try:
        client = redis.Redis(unix_socket_path=str(data_dir / "redis" / "redis.sock"))
        pids["redis"] = int(client.info()["process_id"])
    except (redis.RedisError, OSError):
        pids["redis"] = None
    return pids


def group_members(pgid: int) -> list[int]:
    """Live processes of the process group (session) a child of `up` led."""
    members = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc.pid)
    return members


def healthy(instance: Instance) -> bool:
    try:
        return httpx.get(f"{instance.base_url}/healthz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def worker_answers(data_dir: Path) -> bool:
    """A ping task, sent through the embedded Redis, is consumed and answered."""
    url = f"redis+socket://{data_dir / 'redis' / 'redis.sock'}"
    # Not the current app: later tests check that Django's is (tests/test_harness.py).
    app = Celery("probe", broker=url, backend=url, set_as_current=False)
    try:
        result = app.send_task("workers.health.ping", queue="default")
        return bool(result.get(timeout=10)["pong"])
    except Exception:  # Redis restarting, or the worker not back yet: ask again
        return False
    finally:
        app.close()


@pytest.mark.slow
def test_up_restarts_each_killed_child_while_the_others_keep_serving(data_dir):
    instance = Instance(data_dir, **ENV)
    try:
        instance.wait_until_serving()
        assert worker_answers(data_dir), instance.output
        for name in ("worker", "web", "redis", "postgres"):
            before = wait_until(
                lambda: None not in (pids := service_pids(data_dir)).values() and pids,
                "every pid known",
                instance,
            )
            os.kill(before[name], signal.SIGKILL)
            after = wait_until(
                lambda name=name, before=before: (
                    (pids := service_pids(data_dir))[name] not in (None, before[name])
                    # The new process can be up (its pid file written) before `up` says so.
                    and f"restarted the {name} process (pid " in instance.output
                    and healthy(instance)
                    and worker_answers(data_dir)
                    and pids
                ),
                f"the {name} process back and the platform answering",
                instance,
            )
            # One death, one restart: the restarted process is not taken for dead again.
            assert instance.output.count(f"the {name} process ended (") == 1, instance.output
            if name != "postgres":  # pg_ctl's server is not our child: no exit status
                assert f"the {name} process ended (killed by SIGKILL)" in instance.output
            assert f"restarted the {name} process (pid {after[name]})" in instance.output
            others = {key: pid for key, pid in before.items() if key != name}
            assert {key: after[key] for key in others} == others, instance.output
            if name == "worker":  # its embedded beat and pool died with it: no second beat
                assert group_members(before[name]) == [], instance.output
        assert "giving up" not in instance.output
        assert instance.stop(signal.SIGTERM) == 0, instance.output
        assert "ministudio: stopped" in instance.output
        assert_nothing_left(data_dir)
    finally:
        instance.kill()
        kill_everything_of(data_dir)


@pytest.mark.slow
def test_up_gives_up_on_a_crash_loop_naming_the_child(data_dir):
    # A web server that dies at once every time: its port is taken.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        instance = Instance(data_dir, port=taken.getsockname()[1], **ENV)
        try:
            assert instance.process.wait(START_TIMEOUT) == 1, instance.output
            instance.reader.join(timeout=5)
        finally:
            instance.kill()
            kill_everything_of(data_dir)
    output = instance.output
    deaths = re.findall(r"the web process ended \((exit code \d+)\); restarting it", output)
    assert len(deaths) == 2 and deaths[0] != "exit code 0", output
    message = output[output.index("ministudio: giving up") :]
    # MINISTUDIO_RESTART_LIMIT=3: the third death is the last; its own words come along.
    assert f"the web process ended 3 times within 60s (the last time: {deaths[0]})" in message
    assert "address already in use" in message, output
    assert "ministudio: stopped" in message
    assert_nothing_left(data_dir)


# --- the restart rule alone, on a fake clock ----------------------------------------------


class FakeService:
    name = "worker"

    def __init__(self) -> None:
        self.pid = 100
        self.how: str | None = None  # how it ended; None while it runs
        self.fail_start = False

    def ended(self) -> str | None:
        return self.how

    def restart(self) -> None:
        if self.fail_start:
            raise RuntimeError("cannot start")
        self.pid += 1
        self.how = None

    def tail(self) -> list[str]:
        return ["Traceback (most recent call last):", "ValueError: broken"]


def restarter(service: FakeService, lines: list[str], **policy: float) -> Restarter:
    return Restarter(
        [service], policy=RestartPolicy(**policy), log=lines.append, stopping=lambda: False
    )


def test_a_dead_service_is_restarted_after_a_doubling_backoff():
    service, lines = FakeService(), []
    watcher = restarter(service, lines, limit=5, window=60)
    delays = []
    now = 0.0
    for _ in range(4):
        service.how = "killed by SIGKILL"
        assert watcher.tick(now) is False  # noted, restart pending
        delays.append(float(re.search(r"restarting it in ([\d.]+)s", lines[-1]).group(1)))
        assert watcher.tick(now + delays[-1] - 0.01) is False  # not yet
        assert watcher.tick(now + delays[-1]) is True
        assert service.how is None and f"(pid {service.pid})" in lines[-1]
        now += delays[-1] + 1
    assert delays == [1, 2, 4, 8]
    assert "the worker process ended (killed by SIGKILL)" in lines[0]
    assert RestartPolicy(max_backoff=30).backoff(10) == 30


def test_deaths_outside_the_window_are_forgotten_and_a_crash_loop_gives_up():
    service, lines = FakeService(), []
    watcher = restarter(service, lines, limit=3, window=60)
    for now in (0.0, 100.0, 200.0):  # one death a while: never a loop, backoff stays 1s
        service.how = "exit code 1"
        watcher.tick(now)
        assert "restarting it in 1s" in lines[-1]
        watcher.tick(now + 1)
    service.fail_start = True  # from now on it cannot even start: each try is a death
    service.how = "exit code 1"
    watcher.tick(300.0)
    watcher.tick(301.0)  # the start fails: death 2, 2s
    assert "failed to start: cannot start" in lines[-1] and "in 2s" in lines[-1]
    with pytest.raises(CrashLoop) as crash:
        watcher.tick(303.0)
    message = str(crash.value)
    assert message.startswith("giving up: the worker process ended 3 times within 60s")
    assert "(the last time: failed to start: cannot start)" in message
    assert message.endswith("ValueError: broken")


def test_a_deliberate_stop_is_never_taken_for_a_crash():
    service, lines = FakeService(), []
    watcher = Restarter([service], policy=RestartPolicy(), log=lines.append, stopping=lambda: True)
    service.how = "exit code 0"  # stopped along with `up`
    assert watcher.tick(0.0) is False and lines == []
