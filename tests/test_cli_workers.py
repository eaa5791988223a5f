"""Web worker processes: how many `ministudio web` and `ministudio up` run (a flag, then
MINISTUDIO_WEB_WORKERS, then WEB_CONCURRENCY, then one per core), and a real
`ministudio web --workers 2` that shares requests between two processes, on uvloop and
httptools, replaces a killed worker and stops whole.

Which worker served a request is read from the outside: the process that holds the server
end of the test's connection (psutil), so the product needs no debug endpoint. Quotas,
caches and sessions across processes: tests/deploy/test_replicas.py, whose two web
replicas share Postgres and Redis exactly as two workers of one server do.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from django.db import connection

from studio.cli import available_cores, parse_args
from studio.cli.up import Supervisor
from tests.worker_process import ROOT, free_port, platform_environment, wait_for

START_TIMEOUT = 90.0

# --- the count ------------------------------------------------------------------------------


@pytest.fixture
def unset(monkeypatch):
    monkeypatch.delenv("MINISTUDIO_WEB_WORKERS", raising=False)
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    return monkeypatch


def test_by_default_one_web_worker_per_core_this_process_may_use(unset):
    cores = len(os.sched_getaffinity(0))
    assert available_cores() == cores
    assert parse_args(["web"]).web_workers == cores
    assert parse_args(["up"]).web_workers == cores


def test_a_flag_beats_the_variables_and_the_new_variable_beats_web_concurrency(unset):
    unset.setenv("WEB_CONCURRENCY", "3")  # what Procfile platforms and the manifests set
    assert parse_args(["web"]).web_workers == 3
    assert parse_args(["up"]).web_workers == 3
    unset.setenv("MINISTUDIO_WEB_WORKERS", "5")
    assert parse_args(["web"]).web_workers == 5
    assert parse_args(["up"]).web_workers == 5
    assert parse_args(["web", "--workers", "2"]).web_workers == 2
    assert parse_args(["up", "--web-workers", "7"]).web_workers == 7
    unset.setenv("MINISTUDIO_WEB_WORKERS", " ")  # blank is unset
    assert parse_args(["web"]).web_workers == 3
    # Other commands neither need nor check the count.
    unset.setenv("MINISTUDIO_WEB_WORKERS", "0")
    assert not hasattr(parse_args(["worker"]), "web_workers")
    # A flag wins: a bad variable it overrides is not an error.
    assert parse_args(["web", "--workers", "4"]).web_workers == 4


@pytest.mark.parametrize(
    ("argv", "variables", "message"),
    [
        (["web", "--workers", "0"], {}, "argument --workers: must be 1 or more; got 0"),
        (["web", "--workers", "-2"], {}, "argument --workers: must be 1 or more; got -2"),
        (
            ["up", "--web-workers", "two"],
            {},
            "argument --web-workers: must be a whole number; got 'two'",
        ),
        (["up", "--web-workers", "0"], {}, "argument --web-workers: must be 1 or more; got 0"),
        (["web"], {"MINISTUDIO_WEB_WORKERS": "0"}, "MINISTUDIO_WEB_WORKERS must be 1 or more"),
        (["up"], {"WEB_CONCURRENCY": "many"}, "WEB_CONCURRENCY must be a whole number"),
    ],
)
def test_fewer_than_one_web_worker_is_refused_in_one_line(unset, capsys, argv, variables, message):
    for name, value in variables.items():
        unset.setenv(name, value)
    with pytest.raises(SystemExit) as exited:
        parse_args(argv)
    assert exited.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "error: " in error and message in error


def ministudio(*arguments: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MINISTUDIO_WEB_WORKERS"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "platform"), str(ROOT)])
    return subprocess.run(
        [sys.executable, "-m", "studio.cli", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_real_command_refuses_zero_workers_before_starting_anything():
    result = ministudio("web", "--workers", "0")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "ministudio web: error: argument --workers: must be 1 or more; got 0"
    )


def test_a_taken_port_is_refused_in_one_line_naming_it_whatever_the_workers():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for workers in ("1", "2"):
            result = ministudio("web", "--no-sync", "--port", str(port), "--workers", workers)
            assert result.returncode == 1
            assert result.stderr.strip() == (
                f"ministudio: cannot listen on 127.0.0.1:{port}: address already in use"
            )


def test_up_runs_its_web_child_with_the_count(tmp_path):
    supervisor = Supervisor(host="0.0.0.0", port=8123, base=tmp_path, web_workers=3)  # noqa: S104
    command = supervisor.web_command()
    assert command[:3] == [sys.executable, "-m", "studio.cli"]
    assert command[-2:] == ["--workers", "3"]
    child = parse_args(command[3:])  # what the child itself will make of it
    assert (child.command, child.web_workers, child.port, child.no_sync) == ("web", 3, 8123, True)


# --- a real server with two workers ---------------------------------------------------------


def blocked_modules(directory: Path, *names: str) -> Path:
    """A directory that, first on PYTHONPATH, makes ``import <name>`` fail as if the
    package were not installed."""
    directory.mkdir()
    for name in names:
        (directory / f"{name}.py").write_text(f"raise ImportError('{name}: not installed')\n")
    return directory


class Server:
    """``ministudio web --workers N`` in its own session, its output in a file; by default
    with ``--no-sync``, as `up` runs it (no database needed)."""

    def __init__(
        self,
        tmp_path: Path,
        workers: int,
        pythonpath: Path | None = None,
        sync: tuple[str, ...] = ("--no-sync",),
    ) -> None:
        self.port = free_port()
        self.log = tmp_path / "web.log"
        env = platform_environment(MINISTUDIO_WARM_MODELS="0")  # no models: lighter workers
        env.pop("MINISTUDIO_WEB_WORKERS", None)
        if pythonpath is not None:
            env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), env["PYTHONPATH"]])
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "studio.cli", "web", *sync),
                    *("--host", "127.0.0.1", "--port", str(self.port)),
                    *("--workers", str(workers)),
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.main = psutil.Process(self.process.pid)

    def workers(self) -> dict[int, psutil.Process]:
        """uvicorn's worker processes: its spawned children, not multiprocessing's resource
        tracker."""
        found = {}
        for child in self.main.children():
            with contextlib.suppress(psutil.Error):
                if "spawn_main" in " ".join(child.cmdline()):
                    found[child.pid] = child
        return found

    def served_by(self) -> int | None:
        """GET /livez on a new connection; the pid of the process holding its server end
        (None when the server does not answer yet)."""
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        except OSError:
            return None
        with sock:
            sock.sendall(b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            head = b""
            with contextlib.suppress(OSError):
                while b"\r\n\r\n" not in head and (chunk := sock.recv(4096)):
                    head += chunk
            if not head.startswith(b"HTTP/1.1 200"):
                return None
            client = sock.getsockname()[1]  # still open (keep-alive): the server holds its end
            candidates = {self.main.pid: self.main, **self.workers()}
            for pid, process in candidates.items():
                with contextlib.suppress(psutil.Error):
                    connections = process.net_connections(kind="tcp")
                    ends = {(c.laddr.port, c.raddr.port) for c in connections if c.raddr}
                    if (self.port, client) in ends:
                        return pid
        return None

    def serving_pids(self, count: int, timeout: float = START_TIMEOUT) -> set[int]:
        """Requests until ``count`` distinct processes have answered."""
        seen: set[int] = set()

        def enough() -> bool:
            self.check_running()
            if (pid := self.served_by()) is not None:
                seen.add(pid)
            return len(seen) >= count

        wait_for(enough, timeout, f"{count} processes answering (so far {seen})", self.log)
        return seen

    def check_running(self) -> None:
        if self.process.poll() is not None:
            pytest.fail(f"the server exited with {self.process.returncode}:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)


def loaded_libraries(process: psutil.Process) -> set[str]:
    """The packages whose compiled extensions the process has mapped."""
    return {
        package
        for mapping in process.memory_maps()
        for package in ("uvloop", "httptools")
        if f"/{package}/" in mapping.path
    }


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_two_web_workers_share_requests_replace_a_dead_one_and_stop_together(tmp_path):
    server = Server(tmp_path, workers=2)
    try:
        wait_for(lambda: len(server.workers()) == 2, START_TIMEOUT, "two workers", server.log)
        workers = server.workers()
        # Both workers answer, and only they: the main process only supervises.
        assert server.serving_pids(2) == set(workers), server.output()
        # uvicorn's "auto" loop and HTTP parser are uvloop and httptools once installed.
        for worker in workers.values():
            assert loaded_libraries(worker) == {"uvloop", "httptools"}

        # A worker that dies is replaced by uvicorn; the other keeps serving meanwhile.
        dead, alive = list(workers)
        os.kill(dead, signal.SIGKILL)
        assert server.served_by() == alive
        wait_for(
            lambda: len(server.workers()) == 2 and dead not in server.workers(),
            START_TIMEOUT,
            "a replacement worker",
            server.log,
        )
        [replacement] = set(server.workers()) - {alive}
        assert server.serving_pids(2) == {alive, replacement}, server.output()

        # SIGTERM (what `up` and process managers send) stops every process of the server.
        everything = [server.main, *server.main.children(recursive=True)]
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(30) == 0, server.output()
        _, left = psutil.wait_procs(everything, timeout=10)
        assert not left, f"still running: {left}\n{server.output()}"
        assert not group_alive(server.process.pid)
    finally:
        server.kill()


@pytest.mark.slow
def test_without_uvloop_and_httptools_the_server_falls_back_to_asyncio_and_h11(tmp_path):
    blocked = blocked_modules(tmp_path / "blocked", "uvloop", "httptools")
    server = Server(tmp_path, workers=1, pythonpath=blocked)
    try:
        [pid] = server.serving_pids(1)
        assert pid == server.process.pid  # one worker: the process itself serves
        assert loaded_libraries(server.main) == set()
        server.process.send_signal(signal.SIGTERM)
        # One worker is uvicorn's own server, which ends by re-raising the signal it caught.
        assert server.process.wait(30) in (0, -signal.SIGTERM), server.output()
        assert not group_alive(server.process.pid)
    finally:
        server.kill()
    assert "Traceback" not in server.output()


def other_database_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_supervising_process_keeps_no_database_connection_after_recording_plugins(tmp_path):
    before = other_database_connections()
    for workers, holds in ((1, True), (2, False)):  # one worker: the process serves, pool kept
        server = Server(tmp_path, workers=workers, sync=())
        try:
            server.serving_pids(1)  # /livez: the workers themselves ask Postgres nothing
            assert (other_database_connections() > before) is holds, server.output()
        finally:
            server.kill()
        wait_for(lambda: other_database_connections() == before, 30, "the connections to close")
