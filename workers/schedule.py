"""Periodic work, run by the one worker started with ``--beat`` (``ministudio up`` does) or
by ``ministudio beat``. Each entry names its task (defined in an app) and its queue."""

from workers.queues import DEFAULT_QUEUE

BEAT_SCHEDULE = {
    "flush-usage": {"task": "usage.flush", "schedule": 5.0, "options": {"queue": DEFAULT_QUEUE}},
    "sweep-ingestion": {
        "task": "knowledge.sweep",
        "schedule": 60.0,
        "options": {"queue": DEFAULT_QUEUE},
    },
    "forget-idle-sessions": {
        "task": "applications.forget_idle_sessions",
        "schedule": 300.0,
        "options": {"queue": DEFAULT_QUEUE},
    },
    "sweep-batches": {"task": "batch.sweep", "schedule": 30.0, "options": {"queue": DEFAULT_QUEUE}},
}
