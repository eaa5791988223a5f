"""The ``ministudio`` command.

ministudio up         everything on one machine (embedded Postgres + Redis, web, worker)
ministudio web        the ASGI web server alone (production: one per replica)
ministudio worker     a Celery worker alone (production: as many as the load needs)
ministudio manage     any Django management command (migrate, createsuperuser, ...)
"""

import argparse
import os
import sys

from studio.config import env_int, env_str
from workers.queues import PLAIN_WORKER_QUEUES

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ministudio", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = commands.add_parser("up", help="run the whole platform on this machine")
    up.add_argument("--host", default=DEFAULT_HOST, help=f"bind address (default {DEFAULT_HOST})")
    up.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    up.add_argument("--no-worker", action="store_true", help="do not start a Celery worker")

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
        type=int,
        default=env_int("WEB_CONCURRENCY", default=1),
        help="server processes (default: WEB_CONCURRENCY or 1)",
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


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    options = _parser().parse_args(argv)
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

        return run_up(options.host, options.port, with_worker=not options.no_worker)
    if options.command == "plugins":
        from studio.cli.plugins import list_plugins, sync

        return list_plugins(as_json=options.json) if options.plugins_command == "list" else sync()
    if options.command == "web":
        import uvicorn

        from studio.cli.plugins import sync_at_start

        if not options.no_sync:
            sync_at_start()

        uvicorn.run(
            "studio.asgi:application",
            host=options.host,
            port=options.port,
            workers=options.workers,
            lifespan="off",
            proxy_headers=True,
            forwarded_allow_ips=env_str("FORWARDED_ALLOW_IPS") or "127.0.0.1",
            log_level=(env_str("MINISTUDIO_LOG_LEVEL") or "info").lower(),
        )
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


def _beat_schedule() -> str:
    """Where beat keeps its schedule (last run times): the data directory."""
    from studio.config import data_dir

    schedule = data_dir() / "celerybeat-schedule"
    schedule.parent.mkdir(parents=True, exist_ok=True)
    return str(schedule)


if __name__ == "__main__":
    sys.exit(main())
