"""Restarting what ``ministudio up`` runs when it dies on its own.

Every service (the web server, the worker, the embedded Redis and Postgres) is watched; one
that ends without being asked to is restarted after a backoff (1s, 2s, 4s, ... at most
``MAX_BACKOFF_SECONDS``), counted from its deaths within the crash-loop window, while the
others keep serving. The Nth death within the window (``MINISTUDIO_RESTART_LIMIT``, default
5, in ``MINISTUDIO_RESTART_WINDOW`` seconds, default 60) is a crash loop: `up` gives up
and stops everything, saying which service and how it ended.
"""

import collections
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Protocol

from studio.cli.embedded import describe_returncode
from studio.config import env_int

RESTART_LIMIT = 5  # deaths of one service within the window that count as a crash loop
RESTART_WINDOW_SECONDS = 60
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
TAIL_LINES = 15  # of a dead service's output, in the crash-loop message


class Service(Protocol):
    name: str

    @property
    def pid(self) -> int | None: ...

    def ended(self) -> str | None:
        """None while it runs, else how it ended (``exit code 1``, ``killed by SIGKILL``)."""

    def restart(self) -> None: ...

    def tail(self) -> list[str]:
        """Its last lines of output or log, for the crash-loop message."""


@dataclass(frozen=True)
class RestartPolicy:
    limit: int = RESTART_LIMIT
    window: float = RESTART_WINDOW_SECONDS
    first_backoff: float = FIRST_BACKOFF_SECONDS
    max_backoff: float = MAX_BACKOFF_SECONDS

    @classmethod
    def from_environment(cls) -> "RestartPolicy":
        return cls(
            limit=max(1, env_int("MINISTUDIO_RESTART_LIMIT", default=RESTART_LIMIT)),
            window=max(1, env_int("MINISTUDIO_RESTART_WINDOW", default=RESTART_WINDOW_SECONDS)),
        )

    def backoff(self, deaths: int) -> float:
        """Seconds before restarting after the ``deaths``-th death within the window."""
        return min(self.max_backoff, self.first_backoff * 2 ** (deaths - 1))


class CrashLoop(Exception):
    """A service died too often within the window: `up` gives up."""


@dataclass
class _Watch:
    service: Service
    deaths: collections.deque[float] = field(default_factory=collections.deque)
    restart_at: float | None = None  # set while a restart is pending


class Restarter:
    """Checks the services on every ``tick`` and restarts the dead ones when due."""

    def __init__(
        self,
        services: list[Service],
        *,
        policy: RestartPolicy,
        log: Callable[[str], None],
        stopping: Callable[[], bool],
    ) -> None:
        self.watches = [_Watch(service) for service in services]
        self.policy = policy
        self.log = log
        # A deliberate stop can take children down before we act on it: never a crash.
        self.stopping = stopping

    def tick(self, now: float | None = None) -> bool:
        """Note deaths, restart what is due; True when a service was restarted."""
        restarted = False
        now = time.monotonic() if now is None else now
        for watch in self.watches:
            if self.stopping():
                return restarted
            if watch.restart_at is None:
                if (how := watch.service.ended()) is not None:
                    self._died(watch, how, now)
            elif now >= watch.restart_at:
                restarted |= self._restart(watch, now)
        return restarted

    def _died(self, watch: _Watch, how: str, now: float) -> None:
        watch.deaths.append(now)
        while watch.deaths and watch.deaths[0] <= now - self.policy.window:
            watch.deaths.popleft()
        name, count = watch.service.name, len(watch.deaths)
        if count >= self.policy.limit:
            raise CrashLoop(self._give_up_message(watch.service, how, count))
        delay = self.policy.backoff(count)
        watch.restart_at = now + delay
        at = time.strftime("%H:%M:%S", time.localtime(time.time() + delay))
        self.log(
            f"the {name} process ended ({how}); restarting it in {delay:g}s, at {at} "
            f"(death {count} of {self.policy.limit} allowed within {self.policy.window:g}s)"
        )

    def _restart(self, watch: _Watch, now: float) -> bool:
        watch.restart_at = None
        try:
            watch.service.restart()
        except Exception as exc:  # a failed start is one more death, with its backoff
            self._died(watch, f"failed to start: {exc or type(exc).__name__}", now)
            return False
        self.log(f"restarted the {watch.service.name} process (pid {watch.service.pid})")
        return True

    def _give_up_message(self, service: Service, how: str, count: int) -> str:
        message = (
            f"giving up: the {service.name} process ended {count} times within "
            f"{self.policy.window:g}s (the last time: {how})"
        )
        tail = service.tail()[-TAIL_LINES:]
        if tail:
            message += "; its last output:\n  " + "\n  ".join(tail)
        return message


class ChildProcess:
    """A command `up` runs (web, worker) in its own session, its output relayed to ours
    and its last lines kept for the crash-loop message."""

    def __init__(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.command = command
        # Unbuffered: its output is a pipe to us now, and should reach the terminal at once.
        self.env = {**env, "PYTHONUNBUFFERED": "1"}
        self.lines: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self.popen: subprocess.Popen | None = None
        self.relays: list[threading.Thread] = []

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    def start(self) -> None:
        # Own session: the terminal's Ctrl-C reaches only us, and we stop children in order.
        self.popen = subprocess.Popen(  # noqa: S603
            self.command,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.lines.clear()
        self.relays = [
            threading.Thread(target=self._relay, args=(stream, sink), daemon=True)
            for stream, sink in ((self.popen.stdout, sys.stdout), (self.popen.stderr, sys.stderr))
        ]
        for relay in self.relays:
            relay.start()

    restart = start

    def ended(self) -> str | None:
        if self.popen is None or self.popen.poll() is None:
            return None
        self.kill_group()  # what it left in its session (pool processes, beat) goes too
        return describe_returncode(self.popen.returncode)

    def tail(self) -> list[str]:
        for relay in self.relays:  # its last words (a traceback) may still be in the pipe
            relay.join(timeout=1)
        return list(self.lines)

    def terminate(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)

    def kill_group(self) -> None:
        if self.popen is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGKILL)

    def _relay(self, stream: IO[bytes], sink: IO[str]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace")
            self.lines.append(line.rstrip())
            with contextlib.suppress(OSError, ValueError):  # our own output may be closed
                sink.write(line)
                sink.flush()
        stream.close()
