"""Where paused runs wait: LangGraph's Postgres checkpointer, in the platform's database.

Only a workflow that can pause (it has a human-input node) is checkpointed, and only when
its run exits (``durability="exit"``): at the pause, or at the end, when the thread is
deleted. A run that never pauses writes nothing here. The saver's tables are created by
its own migrations, the first time a process needs them.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections
from langgraph.checkpoint.postgres import PostgresSaver
from psycopg.rows import dict_row

_ready: set[str] = set()
_ready_lock = threading.Lock()


def _conninfo() -> dict[str, object]:
    settings = connections[DEFAULT_DB_ALIAS].settings_dict
    params: dict[str, object] = {"dbname": settings["NAME"]}
    for key, name in (("USER", "user"), ("PASSWORD", "password"), ("HOST", "host")):
        if settings.get(key):
            params[name] = settings[key]
    if settings.get("PORT"):
        params["port"] = int(settings["PORT"])
    return params


@contextmanager
def saver() -> Iterator[PostgresSaver]:
    """A checkpointer on its own connection (the saver commits as it goes, outside any
    transaction of the caller's), set up once per process and database."""
    params = _conninfo()
    with psycopg.connect(
        **params, autocommit=True, prepare_threshold=0, row_factory=dict_row
    ) as connection:
        checkpointer = PostgresSaver(connection)
        key = str(params["dbname"])
        if key not in _ready:
            with _ready_lock:
                checkpointer.setup()
                _ready.add(key)
        yield checkpointer


def thread_id(app_id: object, session_id: str) -> str:
    """A paused run's checkpoint thread: one per app and session."""
    return f"{app_id}:{session_id}"
