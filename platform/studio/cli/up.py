"""``ministudio up``: the whole platform on one machine, supervised by one process.

Order: embedded Postgres and Redis (unless DATABASE_URL / REDIS_URL name servers), the
secret key, migrations and the first-run data, then the web server and a Celery worker as
child processes. A child or server that dies is restarted with backoff while the others keep
serving; a crash loop (see supervisor.py) or a signal (Ctrl-C, SIGTERM) stops everything:
web, worker, Redis, Postgres. The data stays under the data directory for the next start.
"""

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from studio.cli.embedded import (
    EmbeddedPostgres,
    EmbeddedRedis,
    socket_path_fits,
    start_postgres,
    start_redis,
)
from studio.cli.runstate import DataDirBusy, RunState, stop_orphans
from studio.cli.supervisor import ChildProcess, CrashLoop, Restarter, RestartPolicy, Service
from studio.config import SECRET_KEY_FILE, data_dir, env_bool, env_str, redis_socket
from studio.frontend import build_is_stale

STOP_TIMEOUT_SECONDS = 15.0
READY_TIMEOUT_SECONDS = 120.0


def say(message: str) -> None:
    print(f"ministudio: {message}", flush=True)


def platform_root() -> Path:
    """The source root holding the `studio` package (platform/ in a checkout)."""
    return Path(__file__).resolve().parent.parent.parent


def child_environment(extra: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, **extra}
    root = str(platform_root())
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in paths:
        env["PYTHONPATH"] = os.pathsep.join([root, *paths])
    env.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    return env


def frontend_dir() -> Path | None:
    """The web console's sources (``frontend/`` of a checkout), or None when not there."""
    frontend = platform_root().parent / "frontend"
    return frontend if (frontend / "package.json").is_file() else None


def ensure_frontend_build(frontend: Path | None) -> bool:
    """Build the web console when its build is missing or older than its sources:
    ``npm ci`` when ``node_modules`` is missing, then ``npm run build``. Without npm, or
    when a step fails, say so in one line and go on (``/`` shows the start page, or the
    previous build). True when a build ran and succeeded."""
    if frontend is None or not env_bool("MINISTUDIO_FRONTEND_BUILD", default=True):
        return False
    if not build_is_stale(frontend):
        return False
    npm = shutil.which("npm")
    if npm is None:
        say(
            "npm not found, so the web console is not built: install Node.js 20.19+ "
            "and run `ministudio up` again (until then `/` shows the start page)"
        )
        return False
    say("building the web console (frontend/: npm run build)")
    steps = [["ci", "--no-audit", "--no-fund"]] if not (frontend / "node_modules").is_dir() else []
    for step in [*steps, ["run", "build"]]:
        result = subprocess.run([npm, *step], cwd=frontend, check=False)  # noqa: S603
        if result.returncode != 0:
            say(
                f"`npm {' '.join(step)}` failed with exit code {result.returncode}; going on "
                "without a fresh web console build"
            )
            return False
    say("web console built")
    return True


def ensure_secret_key(base: Path) -> None:
    """Generate the secret key once, on first start, unless SECRET_KEY is configured."""
    if env_str("SECRET_KEY"):
        return
    path = base / SECRET_KEY_FILE
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)


@dataclass
class Supervisor:
    host: str
    port: int
    base: Path
    with_worker: bool = True
    web_workers: int = 1
    postgres: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None
    children: dict[str, ChildProcess] = field(default_factory=dict)
    restarter: Restarter | None = None
    state: RunState | None = None
    stop_requested: bool = False
    stopped: bool = False

    def run(self) -> int:
        started = time.monotonic()
        # A signal only sets a flag; every step and wait checks it. Raising from the
        # handler could land half-way through starting a server and orphan it.
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        self.base.mkdir(parents=True, exist_ok=True)
        state = self.state = RunState(self.base)
        try:
            previous = state.acquire()
        except DataDirBusy as exc:
            say(str(exc))
            return 1
        try:
            if stop_orphans(previous):
                say("stopped processes left behind by an earlier run that did not exit cleanly")
            ensure_frontend_build(frontend_dir())
            self._checkpoint()
            env = self._start_services()
            self._prepare_database(env)
            self._start_children(env)
            self._wait_until_ready(started)
            self._watch()
            return 0
        except StopRequested:
            return 0
        except (ChildExited, CrashLoop) as exc:
            say(str(exc))
            return 1
        finally:
            self.stop()
            state.release()

    def _on_signal(self, signum: int, frame: object) -> None:
        if not self.stop_requested:
            say(f"received {signal.Signals(signum).name}, stopping")
        self.stop_requested = True

    def _checkpoint(self) -> None:
        if self.stop_requested:
            raise StopRequested

    def _start_services(self) -> dict[str, str]:
        (self.base / "static").mkdir(exist_ok=True)  # STATIC_ROOT, for collectstatic
        env = {"MINISTUDIO_DATA_DIR": str(self.base)}
        if env_str("DATABASE_URL"):
            say("using the database at DATABASE_URL")
        else:
            began = time.monotonic()
            self.postgres = start_postgres(self.base)
            env["DATABASE_URL"] = self.postgres.url()
            seconds = time.monotonic() - began
            say(f"embedded Postgres ready in {seconds:.1f}s ({self.postgres.socket_dir})")
        self._checkpoint()
        if env_str("REDIS_URL"):
            say("using the Redis at REDIS_URL")
        else:
            if not socket_path_fits(redis_socket(self.base)):
                raise ChildExited(
                    f"MINISTUDIO_DATA_DIR {self.base} is too deep for a Unix socket; "
                    "choose a shorter path or set REDIS_URL."
                )
            self.redis = start_redis(self.base)
            env["REDIS_URL"] = self.redis.url
            say(f"embedded Redis ready ({self.redis.socket})")
        self._checkpoint()
        ensure_secret_key(self.base)
        os.environ.update(env)
        return child_environment(env)

    def _prepare_database(self, env: dict[str, str]) -> None:
        command = [sys.executable, "-m", "studio.cli", "manage", "bootstrap", "--migrate"]
        # Own session: a Ctrl-C now lets migrations finish, then everything stops.
        result = subprocess.run(command, env=env, check=False, start_new_session=True)  # noqa: S603
        if result.returncode != 0:
            raise ChildExited(
                f"`manage bootstrap --migrate` failed with exit code {result.returncode}"
            )
        self._checkpoint()

    def web_command(self) -> list[str]:
        """The web child: uvicorn's supervisor and its ``web_workers`` worker processes, all
        in the child's session, so that stopping or restarting the child takes them all."""
        return [
            sys.executable,
            "-m",
            "studio.cli",
            "web",
            "--no-sync",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--workers",
            str(self.web_workers),
        ]

    def _start_children(self, env: dict[str, str]) -> None:
        count = self.web_workers
        say(
            f"starting the web server with {count} worker process{'es' if count != 1 else ''} "
            "(--web-workers or MINISTUDIO_WEB_WORKERS to change)"
        )
        self._spawn("web", self.web_command(), env)
        if self.with_worker:
            self._spawn("worker", [sys.executable, "-m", "studio.cli", "worker", "--beat"], env)
        services: list[Service] = [*self.children.values()]
        services += [server for server in (self.redis, self.postgres) if server is not None]
        self.restarter = Restarter(
            services,
            policy=RestartPolicy.from_environment(),
            log=say,
            stopping=lambda: self.stop_requested,
        )
        self._record()

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self.children[name] = ChildProcess(name, command, env)
        self.children[name].start()

    def _record(self) -> None:
        """What a next `up` stops if this one dies without cleaning up: the current pids."""
        assert self.state is not None
        self.state.record({name: child.pid for name, child in self.children.items()})

    def _wait_until_ready(self, started: float) -> None:
        url = f"http://{self._client_host()}:{self.port}/console/api/health"
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            self._checkpoint()
            self._supervise()
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    say(
                        f"ready in {time.monotonic() - started:.1f}s: "
                        f"http://{self._client_host()}:{self.port}/ (Ctrl-C to stop)"
                    )
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise ChildExited(
            f"the web server did not answer {url} within {READY_TIMEOUT_SECONDS:.0f}s"
        )

    def _client_host(self) -> str:
        return "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host  # noqa: S104

    def _supervise(self) -> None:
        assert self.restarter is not None
        if self.restarter.tick():
            self._record()

    def _watch(self) -> None:
        while True:
            self._checkpoint()
            self._supervise()
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop the children, then Redis, then Postgres; idempotent."""
        if self.stopped:
            return
        self.stopped = True
        for child in self.children.values():
            child.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for name, child in self.children.items():
            if child.popen is None:
                continue
            try:
                child.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"the {name} process did not stop in time; killing it")
            # Whatever the child left in its session (a pool process, embedded beat) goes too.
            child.kill_group()
            child.popen.wait()
        if self.redis is not None:
            self.redis.stop()
        if self.postgres is not None:
            self.postgres.stop()
        say("stopped")


class ChildExited(Exception):
    pass


class StopRequested(Exception):
    pass


def run_up(host: str, port: int, *, with_worker: bool = True, web_workers: int = 1) -> int:
    return Supervisor(
        host=host, port=port, base=data_dir(), with_worker=with_worker, web_workers=web_workers
    ).run()
