"""`ministudio up` end to end: a real supervisor with embedded Postgres and Redis, the web
server and a Celery worker, started twice on one data directory.

No test database here: the instance under test brings its own servers, under a short
temporary data directory (Unix socket paths are limited to ~104 bytes).
"""

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.worker_process import free_port

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
# Variables that would point `up` at other servers or settings than its own.
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
    "WEB_CONCURRENCY",
)
GENERATED_PASSWORD = re.compile(r"Generated password \(shown once[^)]*\): (\S+)")
ADMIN_EMAIL = "admin@example.com"


def processes_of(data_dir: Path) -> list[psutil.Process]:
    """Every live process started for this data directory: postgres and redis-server name it
    on their command line, the web server and the worker (and their children) inherit
    MINISTUDIO_DATA_DIR."""
    found = []
    for proc in psutil.process_iter():
        if proc.pid == os.getpid():
            continue
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            if str(data_dir) in " ".join(proc.cmdline()) or (
                proc.environ().get("MINISTUDIO_DATA_DIR") == str(data_dir)
            ):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def describe(procs: list[psutil.Process]) -> list[str]:
    described = []
    for proc in procs:
        try:
            described.append(f"{proc.pid} {' '.join(proc.cmdline())}")
        except psutil.Error:
            described.append(f"{proc.pid} (gone)")
    return described


def kill_everything_of(data_dir: Path) -> None:
    """Safety net: whatever a failed run left behind, with its children, goes."""
    procs = {proc.pid: proc for proc in processes_of(data_dir)}
    for proc in list(procs.values()):
        with contextlib.suppress(psutil.Error):
            procs.update((child.pid, child) for child in proc.children(recursive=True))
    for proc in procs.values():
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(list(procs.values()), timeout=10)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=5)


class Instance:
    """One `ministudio up` process; its stdout and stderr are collected by a thread."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        arguments: tuple[str, ...] = (),
        **extra_env: str,
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in UNSET}
        env["MINISTUDIO_DATA_DIR"] = str(data_dir)
        env["MINISTUDIO_FRONTEND_BUILD"] = "0"  # supervision only; the build is tested below
        # Two web workers, not one per core: uvicorn's supervisor and its workers are what
        # `up` stops and restarts, and a many-core machine does not start dozens.
        env["MINISTUDIO_WEB_WORKERS"] = "2"
        env.update(extra_env)
        paths = [str(ROOT / "platform"), str(ROOT), env.get("PYTHONPATH", "")]
        env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "studio.cli", "up", "--port", str(self.port), *arguments],
            env=env,
            cwd=data_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # a Ctrl-C on pytest leaves it to the finally blocks
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_until_serving(self, timeout: float = START_TIMEOUT) -> float:
        """Seconds until GET /console/api/openapi.json first answers 200."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                pytest.fail(f"`up` exited with {self.process.returncode}:\n{self.output}")
            try:
                response = httpx.get(f"{self.base_url}/console/api/openapi.json", timeout=2)
                if response.status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        pytest.fail(f"`up` did not serve within {timeout:.0f}s:\n{self.output}")

    def wait_for_line(self, text: str, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if time.monotonic() > deadline or self.process.poll() is not None:
                pytest.fail(f"`up` never printed {text!r}:\n{self.output}")
            time.sleep(0.05)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.base_url}/console/api", timeout=10)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        self.process.send_signal(signum)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`up` did not exit within {timeout:.0f}s of {signum!r}:\n{self.output}")
        self.reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def log_in(client: httpx.Client, password: str) -> None:
    """The console's session sign-in: the CSRF cookie first, then its value as a header."""
    csrf = client.get("/auth/csrf")
    assert csrf.status_code == 200, csrf.text
    assert "X-Request-Id" in csrf.headers
    token = client.cookies["csrftoken"]
    assert csrf.json()["csrf_token"]
    response = client.post(
        "/auth/login",
        json={"email": ADMIN_EMAIL, "password": password},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200, response.text
    assert response.json()["user"]["email"] == ADMIN_EMAIL


def workspace_slugs(client: httpx.Client) -> list[str]:
    response = client.get("/workspaces")
    assert response.status_code == 200, response.text
    return [workspace["slug"] for workspace in response.json()]


def web_workers_of(data_dir: Path) -> list[psutil.Process]:
    """The worker processes of `up`'s web child (uvicorn's supervisor; its pid in up.lock):
    its spawned children, not multiprocessing's resource tracker."""
    web = psutil.Process(json.loads((data_dir / "up.lock").read_text())["children"]["web"])
    workers = []
    for child in web.children():
        with contextlib.suppress(psutil.Error):
            if "spawn_main" in " ".join(child.cmdline()):
                workers.append(child)
    return workers


def assert_nothing_left(data_dir: Path) -> None:
    deadline = time.monotonic() + 5  # a daemonised postmaster may take a moment to be reaped
    while (left := processes_of(data_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"still running after `up` exited: {describe(left)}"


@pytest.fixture
def data_dir():
    path = Path(tempfile.mkdtemp(prefix="ms-", dir="/tmp"))
    yield path
    kill_everything_of(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.slow
def test_up_serves_stops_cleanly_and_restarts_on_the_same_data(data_dir):
    instances: list[Instance] = []
    try:
        # First start: initdb, migrations, the admin with a generated password, the demo.
        first = Instance(data_dir)
        instances.append(first)
        first.wait_until_serving()
        match = GENERATED_PASSWORD.search(first.output)
        assert match, first.output
        # MINISTUDIO_WEB_WORKERS=2 (see Instance): said at start, and two uvicorn workers.
        assert "starting the web server with 2 worker processes" in first.output
        assert len(web_workers_of(data_dir)) == 2, first.output
        password = match.group(1)

        with first.client() as client:
            log_in(client, password)
            assert workspace_slugs(client) == ["demo"]
            health = client.get("/health")
            assert health.status_code == 200
            assert health.headers["X-Request-Id"]
            assert health.json()["database"] == "ok" and health.json()["redis"] == "ok"

        # One `up` per data directory: a second one is refused and touches nothing.
        intruder = Instance(data_dir)
        instances.append(intruder)
        assert intruder.process.wait(60) == 1
        intruder.reader.join(timeout=5)
        assert "another `ministudio up`" in intruder.output, intruder.output
        assert httpx.get(f"{first.base_url}/console/api/health").status_code == 200

        assert first.stop(signal.SIGTERM) == 0, first.output
        assert "ministudio: stopped" in first.output
        assert_nothing_left(data_dir)

        # Second start on the same data: nothing generated again, the same admin signs in.
        # The flag beats the variable: one web process, which serves itself.
        second = Instance(data_dir, arguments=("--web-workers", "1"))
        instances.append(second)
        second.wait_until_serving()
        assert "Generated password" not in second.output
        assert "starting the web server with 1 worker process (" in second.output
        assert web_workers_of(data_dir) == []
        with second.client() as client:
            log_in(client, password)
            assert workspace_slugs(client) == ["demo"]

        assert second.stop(signal.SIGINT) == 0, second.output
        assert "ministudio: stopped" in second.output
        assert_nothing_left(data_dir)
    finally:
        for instance in instances:
            instance.kill()
        kill_everything_of(data_dir)


@pytest.mark.slow
def test_up_cleans_up_after_a_crashed_run_and_a_signal_during_start(data_dir):
    instances: list[Instance] = []
    try:
        crashed = Instance(data_dir)
        instances.append(crashed)
        crashed.wait_until_serving()
        crashed.kill()  # SIGKILL: no chance to stop its children or servers
        assert processes_of(data_dir), "the crash should have left orphans to clean up"

        recovering = Instance(data_dir)
        instances.append(recovering)
        recovering.wait_until_serving()
        assert "left behind by an earlier run" in recovering.output, recovering.output
        assert recovering.stop() == 0, recovering.output
        assert_nothing_left(data_dir)

        # A signal while the embedded servers are still starting stops them too.
        interrupted = Instance(data_dir)
        instances.append(interrupted)
        interrupted.wait_for_line("embedded Postgres ready")
        assert interrupted.stop() == 0, interrupted.output
        assert "ministudio: stopped" in interrupted.output
        assert_nothing_left(data_dir)
    finally:
        for instance in instances:
            instance.kill()
        kill_everything_of(data_dir)


# --- building the web console before starting -------------------------------------------------


def make_frontend(root: Path) -> Path:
    frontend = root / "frontend"
    (frontend / "src" / "pages").mkdir(parents=True)
    for name in ("package.json", "index.html", "src/main.tsx", "src/pages/Models.tsx"):
        (frontend / name).write_text("x")
    return frontend


def build(frontend: Path, *, at: float) -> None:
    (frontend / "dist").mkdir(exist_ok=True)
    (frontend / "dist" / "index.html").write_text("<html>")
    os.utime(frontend / "dist" / "index.html", (at, at))


def test_the_console_build_is_stale_when_missing_or_older_than_a_source(tmp_path):
    from studio.frontend import build_is_stale

    frontend = make_frontend(tmp_path)
    assert build_is_stale(frontend)  # never built
    now = time.time()
    for source in frontend.rglob("*"):
        os.utime(source, (now - 100, now - 100))
    build(frontend, at=now - 50)
    assert not build_is_stale(frontend)
    os.utime(frontend / "src" / "pages" / "Models.tsx", (now, now))  # an edited page
    assert build_is_stale(frontend)
    build(frontend, at=now + 1)
    assert not build_is_stale(frontend)
    (frontend / "node_modules").mkdir()
    (frontend / "node_modules" / "newer.js").write_text("x")  # not a source
    os.utime(frontend / "package.json", (now + 2, now + 2))
    assert build_is_stale(frontend)


def test_up_builds_a_stale_console_with_npm(tmp_path, monkeypatch, capsys):
    from studio.cli import up

    frontend = make_frontend(tmp_path)
    ran = []

    def fake_run(command, cwd, check):
        ran.append(command[1:])
        if command[1:] == ["run", "build"]:
            build(frontend, at=time.time() + 10)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(up.shutil, "which", lambda name: "/usr/bin/npm")
    monkeypatch.setattr(up.subprocess, "run", fake_run)
    monkeypatch.delenv("MINISTUDIO_FRONTEND_BUILD", raising=False)
    assert up.ensure_frontend_build(frontend) is True
    assert ran == [["ci", "--no-audit", "--no-fund"], ["run", "build"]]  # no node_modules yet
    assert up.ensure_frontend_build(frontend) is False  # current now: nothing runs
    assert len(ran) == 2
    monkeypatch.setenv("MINISTUDIO_FRONTEND_BUILD", "0")
    os.utime(frontend / "index.html", (time.time() + 20, time.time() + 20))
    assert up.ensure_frontend_build(frontend) is False and len(ran) == 2


def test_without_npm_up_says_so_in_one_line_and_goes_on(tmp_path, monkeypatch, capsys):
    from studio.cli import up

    frontend = make_frontend(tmp_path)
    monkeypatch.setattr(up.shutil, "which", lambda name: None)
    monkeypatch.delenv("MINISTUDIO_FRONTEND_BUILD", raising=False)
    assert up.ensure_frontend_build(frontend) is False
    [line] = capsys.readouterr().out.strip().splitlines()
    assert "npm not found" in line and "start page" in line
    assert up.ensure_frontend_build(None) is False  # an installed package has no sources
