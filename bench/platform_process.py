"""`ministudio up` as a child process, for the bench scripts and the acceptance checks:
started on a free port in a data directory of the caller's, its output drained by a thread,
stopped with SIGTERM, and anything left behind for that data directory killed.
"""

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent

# Variables that would point `up` at other servers or another admin: never inherited.
UNSET = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "MINISTUDIO_ADMIN_EMAIL",
    "MINISTUDIO_ADMIN_PASSWORD",
    "MINISTUDIO_HTTPS",
    "MINISTUDIO_LOG_LEVEL",
    "DJANGO_SETTINGS_MODULE",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
)
READY_LINE = re.compile(r"ministudio: ready in ([\d.]+)s")
ACCESS_LINE = re.compile(r'INFO: .*"(GET|POST) ')
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exceeded|Unavailable)\b.*")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(
    data_dir: Path, *, admin_email: str, admin_password: str, log_level: str | None = None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env["MINISTUDIO_DATA_DIR"] = str(data_dir)
    env["MINISTUDIO_ADMIN_EMAIL"] = admin_email
    env["MINISTUDIO_ADMIN_PASSWORD"] = admin_password
    if log_level:
        env["MINISTUDIO_LOG_LEVEL"] = log_level
    paths = [str(ROOT / "platform"), str(ROOT), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return env


class Platform:
    """One `ministudio up`; its output (uvicorn's access log too) is drained by a thread."""

    def __init__(
        self,
        data_dir: Path,
        *,
        admin_email: str,
        admin_password: str,
        with_worker: bool = True,
        log_level: str | None = None,
        log: Path | None = None,
        extra_env: dict[str, str] | None = None,
        web_workers: int | None = None,
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.lines: deque[str] = deque(maxlen=400)
        #: The first lines of the first few errors the platform logged.
        self.errors: list[list[str]] = []
        self.log = log.open("w") if log is not None else None
        command = [sys.executable, "-m", "studio.cli", "up", "--port", str(self.port)]
        if not with_worker:
            command.append("--no-worker")
        if web_workers is not None:  # only when asked: an older `up` has no such flag
            command += ["--web-workers", str(web_workers)]
        self.process = subprocess.Popen(
            command,
            env={
                **environment(
                    data_dir,
                    admin_email=admin_email,
                    admin_password=admin_password,
                    log_level=log_level,
                ),
                **(extra_env or {}),
            },
            cwd=data_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # a Ctrl-C here reaches only us; we stop it ourselves
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        block: list[str] | None = None
        for line in self.process.stdout:
            self.lines.append(line)
            if self.log is not None:
                self.log.write(line)
            if (" ERROR " in line or line.startswith("ERROR:")) and len(self.errors) < 3:
                block = [line]
                self.errors.append(block)
            elif block is not None and len(block) < 40 and not ACCESS_LINE.search(line):
                block.append(line)
            else:
                block = None
        if self.log is not None:
            self.log.close()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_until_ready(self, timeout: float) -> float:
        """Seconds until `up` says it is ready (its own check of /console/api/health)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"`up` exited with {self.process.returncode}:\n{self.output}")
            if match := READY_LINE.search(self.output):
                return float(match.group(1))
            time.sleep(0.1)
        raise RuntimeError(f"`up` was not ready within {timeout:.0f}s:\n{self.output}")

    def web_pid(self) -> int | None:
        """The uvicorn process (for py-spy), if it can be found."""
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.process.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    if "web" in child.cmdline() and "studio.cli" in child.cmdline():
                        return child.pid
        return None

    def stop(self, timeout: float = 60.0) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.reader.join(timeout=5)
        return self.process.returncode


def leftovers(data_dir: Path) -> list[psutil.Process]:
    """Processes still running for the data directory (by command line or environment)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid == os.getpid() or proc.status() == psutil.STATUS_ZOMBIE:
                continue
            if str(data_dir) in " ".join(proc.cmdline()) or (
                proc.environ().get("MINISTUDIO_DATA_DIR") == str(data_dir)
            ):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def kill_leftovers(data_dir: Path) -> None:
    procs = leftovers(data_dir)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=10)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
