"""Starting a worker or the beat scheduler (``ministudio worker`` / ``ministudio beat``).

The command line parses its options and says where beat keeps its state; this module
turns them into Celery's own command line and runs it in this process."""

from workers.celery_app import app


def worker_arguments(
    queues: str, *, beat_schedule: str | None = None, concurrency: int | None = None
) -> list[str]:
    """Celery's arguments for a worker consuming ``queues`` (comma-separated); with
    ``beat_schedule`` (the file beat keeps its last run times in) it runs beat too."""
    arguments = ["worker", "--queues", queues, "--loglevel", "INFO"]
    if beat_schedule:
        arguments += ["--beat", "--schedule", beat_schedule]
    if concurrency:
        arguments += ["--concurrency", str(concurrency)]
    return arguments


def run_worker(
    queues: str, *, beat_schedule: str | None = None, concurrency: int | None = None
) -> None:
    """Run a worker until it is stopped."""
    app.worker_main(worker_arguments(queues, beat_schedule=beat_schedule, concurrency=concurrency))


def run_beat(beat_schedule: str) -> None:
    """Run the periodic-task scheduler alone until it is stopped."""
    app.start(["beat", "--schedule", beat_schedule, "--loglevel", "INFO"])
