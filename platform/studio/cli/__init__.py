"""The ``ministudio`` command.

ministudio up         everything on one machine (embedded Postgres + Redis, web, worker)
ministudio web        the ASGI web server alone (production: one per replica)
ministudio worker     a Celery worker alone (production: as many as the load needs)
ministudio manage     any Django management command (migrate, createsuperuser, ...)
"""

import argparse
import os
import socket
import sys

from studio.config import env_int, env_str
from workers.queues import PLAIN_WORKER_QUEUES

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
WEB_WORKERS_DEFAULT_HELP = (
    "default: MINISTUDIO_WEB_WORKERS, else WEB_CONCURRENCY, else one per core this process "
    "may run on"
)


def available_cores() -> int:
    """The cores this process may run on: its CPU affinity (which a container's cpuset
    narrows, unlike ``os.cpu_count()``), at least 1. A CPU quota (``docker --cpus``, a
    Kubernetes limit) is not seen: set the count there."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def _process_count(text: str) -> int:
    """A number of processes, from a flag or a variable: a whole number, 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more; got {value}")
    return value


def default_web_workers() -> int:
    """Web server processes when no flag says: ``MINISTUDIO_WEB_WORKERS``, else
    ``WEB_CONCURRENCY`` (what Procfile platforms and container setups already set), else one
    per available core. A bad value raises ValueError naming the variable."""
    for name, raw in (
        ("MINISTUDIO_WEB_WORKERS", env_str("MINISTUDIO_WEB_WORKERS")),
        ("WEB_CONCURRENCY", env_str("WEB_CONCURRENCY")),
    ):
        if raw is not None:
            try:
                return _process_count(raw)
            except argparse.ArgumentTypeError as exc:
                raise ValueError(f"{name} {exc}") from None
    return available_cores()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ministudio", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = commands.add_parser("up", help="run the whole platform on this machine")
    up.add_argument("--host", default=DEFAULT_HOST, help=f"bind address (default {DEFAULT_HOST})")
    up.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    up.add_argument("--no-worker", action="store_true", help="do not start a Celery worker")
    up.add_argument(
        "--web-workers",
        dest="web_workers",
        type=_process_count,
        metavar="N",
        help=f"web server processes ({WEB_WORKERS_DEFAULT_HELP})",
    )

    web = commands.add_parser("web", help="run the ASGI web server (uvicorn)")
    web.add_argument("--host", default=DEFAULT_HOST)
    web.add_argument("--port", type=int, default=DEFAULT_PORT)
    web.add_argument(
        "--no-sync",
        action="store_true",
        help="skip recording installed plugins at start (`up` has just done it)",
    )
    web.add_argument(
        "--workers",
        dest="web_workers",
        type=_process_count,
        metavar="N",
        help=f"server processes ({WEB_WORKERS_DEFAULT_HELP})",
    )

    worker = commands.add_parser("worker", help="run a Celery worker")
    worker.add_argument(
        "--queues",
        default=",".join(PLAIN_WORKER_QUEUES),
        help="comma-separated queues to consume (a GPU worker with the vllm extra: batch-vllm)",
    )
    worker.add_argument(
        "--beat",
        action="store_true",
        help="also run the periodic tasks (usage flushing); exactly one worker should",
    )
    worker.add_argument(
        "--concurrency",
        type=int,
        default=env_int("WORKER_CONCURRENCY", default=0) or None,
        help="worker processes (default: WORKER_CONCURRENCY or the number of CPUs)",
    )

    commands.add_parser(
        "beat",
        help="run the periodic-task scheduler alone (usage flushing, batch sweeps); run exactly "
        "one, beside workers that consume the default queue",
    )

    plugins = commands.add_parser("plugins", help="installed plugins")
    plugin_commands = plugins.add_subparsers(dest="plugins_command", required=True)
    listing = plugin_commands.add_parser("list", help="what this environment has installed")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    plugin_commands.add_parser("sync", help="record installed plugins in the registry")

    manage = commands.add_parser("manage", help="run a Django management command")
    manage.add_argument("args", nargs=argparse.REMAINDER, help="the command and its arguments")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, with the defaults the environment gives filled in (argparse exits
    with status 2 and one line on a bad flag or variable)."""
    parser = _parser()
    options = parser.parse_args(argv)
    if options.command in ("up", "web") and options.web_workers is None:
        try:
            options.web_workers = default_web_workers()
        except ValueError as exc:
            parser.error(str(exc))
    return options


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    options = parse_args(argv)
    from django.core.exceptions import ImproperlyConfigured

    try:
        return _run(options)
    except ImproperlyConfigured as exc:  # a refused configuration, said in one line
        print(f"ministudio: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `ministudio plugins list | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _run(options: argparse.Namespace) -> int:
    if options.command == "up":
        from studio.cli.up import run_up

        return run_up(
            options.host,
            options.port,
            with_worker=not options.no_worker,
            web_workers=options.web_workers,
        )
    if options.command == "plugins":
        from studio.cli.plugins import list_plugins, sync

        return list_plugins(as_json=options.json) if options.plugins_command == "list" else sync()
    if options.command == "web":
        import uvicorn

        from studio.cli.plugins import sync_at_start

        _check_address_free(options.host, options.port)
        if not options.no_sync:
            sync_at_start()
            if options.web_workers > 1:
                _close_database_pools()
        uvicorn.run("studio.asgi:application", **uvicorn_options(options))
        return 0
    if options.command == "beat":
        from workers.entry import run_beat

        run_beat(_beat_schedule())
        return 0
    if options.command == "worker":
        from workers.entry import run_worker

        schedule = _beat_schedule() if options.beat else None
        run_worker(options.queues, beat_schedule=schedule, concurrency=options.concurrency)
        return 0
    from django.core.management import execute_from_command_line

    execute_from_command_line(["ministudio manage", *options.args])
    return 0


def uvicorn_options(options: argparse.Namespace) -> dict:
    """How ``ministudio web`` runs uvicorn. With more than one worker uvicorn's own
    supervisor binds the port and spawns the workers (each imports Django and the app), and
    replaces one that dies; it stops them all on SIGTERM or SIGINT."""
    return {
        "host": options.host,
        "port": options.port,
        "workers": options.web_workers,
        # uvloop and httptools where they are installed (the pins skip uvloop on Windows),
        # asyncio and h11 where they are not: uvicorn's "auto" picks them.
        "loop": "auto",
        "http": "auto",
        "lifespan": "off",
        "proxy_headers": True,
        "forwarded_allow_ips": env_str("FORWARDED_ALLOW_IPS") or "127.0.0.1",
        "log_level": (env_str("MINISTUDIO_LOG_LEVEL") or "info").lower(),
    }


def _check_address_free(host: str, port: int) -> None:
    """Refuse a taken address in one line that names it (with several workers uvicorn's own
    message does not), before recording plugins or starting anything."""
    from django.core.exceptions import ImproperlyConfigured

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = (exc.strerror or str(exc)).lower()
            raise ImproperlyConfigured(f"cannot listen on {host}:{port}: {reason}") from None


def _close_database_pools() -> None:
    """After recording plugins, a process that only supervises web workers holds no
    Postgres connections: each worker opens its own pool."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        connection.close()
        if hasattr(connection, "close_pool"):
            connection.close_pool()


def _beat_schedule() -> str:
    """Where beat keeps its schedule (last run times): the data directory."""
    from studio.config import data_dir

    schedule = data_dir() / "celerybeat-schedule"
    schedule.parent.mkdir(parents=True, exist_ok=True)
    return str(schedule)


if __name__ == "__main__":
    sys.exit(main())
