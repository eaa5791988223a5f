"""What `ministudio up` records about its processes under the data directory.

One `up` may own a data directory at a time: it holds an exclusive lock on ``up.lock`` and
writes its own pid and its children's into it. If a previous `up` died without cleaning up
(SIGKILL, out of memory), the next one finds that record, stops the orphaned web and worker
processes, and adopts the embedded servers so that its own shutdown stops them too.
"""

import contextlib
import fcntl
import json
import os
import signal
import time
from pathlib import Path

import psutil

LOCK_FILE = "up.lock"


class DataDirBusy(Exception):
    """Another `ministudio up` is running on this data directory."""


class RunState:
    def __init__(self, base: Path) -> None:
        self.path = base / LOCK_FILE
        self._file = None

    def acquire(self) -> dict:
        """Lock the data directory; return what the previous run recorded (maybe nothing)."""
        self._file = open(self.path, "a+")  # noqa: SIM115  (held open for the lock's lifetime)
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.seek(0)
            holder = _parse(self._file.read()).get("pid", "?")
            self._file.close()
            self._file = None
            raise DataDirBusy(
                f"another `ministudio up` (pid {holder}) is running on {self.path.parent}"
            ) from None
        self._file.seek(0)
        previous = _parse(self._file.read())
        self.record({})
        return previous

    def record(self, children: dict[str, int]) -> None:
        assert self._file is not None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(json.dumps({"pid": os.getpid(), "children": children}))
        self._file.flush()

    def release(self) -> None:
        if self._file is not None:
            self.record({})
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def _parse(text: str) -> dict:
    try:
        value = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def stop_orphans(previous: dict, *, timeout: float = 10.0) -> list[int]:
    """Stop the web/worker processes a crashed run left behind; return the pids stopped.

    Only processes that are still ministudio's (``studio.cli`` in their command line) are
    touched, so a recycled pid never hits an unrelated program.
    """
    stopped = []
    for pid in previous.get("children", {}).values():
        try:
            process = psutil.Process(int(pid))
            if "studio.cli" not in " ".join(process.cmdline()):
                continue
            os.killpg(process.pid, signal.SIGTERM)  # children run in their own session
            stopped.append(process.pid)
        except (psutil.Error, ProcessLookupError, ValueError):
            continue
    deadline = time.monotonic() + timeout
    for pid in stopped:
        while psutil.pid_exists(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        # The whole group, even when its leader has exited: a worker's embedded beat or a
        # pool process may outlive the worker that started it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    return stopped
