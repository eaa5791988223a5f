"""One database connection shared by the threads of a run, one thread at a time.

LangGraph runs a streaming graph's nodes on worker threads, and an iteration may run its
items side by side. A node borrows the connection of the thread that started the run
(``borrowed_connection``) rather than opening one per thread: opening costs more than a
node, and a run then sees what its caller sees (inside a test's transaction too).

Django's connection is not thread-safe, least of all inside ``transaction.atomic`` (whose
bookkeeping lives on the connection), so the threads take turns: a node holds the turn
while it runs and steps aside while it waits, on the network (a model's stream, an HTTP
request) or on other threads (a sub-run, an iteration's items), so work that waits still
overlaps. Turns are re-entrant: a node's own nested work (an iteration's inside run in the
same thread) keeps its turn.
"""

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper


class Turns:
    """Whose turn it is to use one connection: a re-entrant lock that its holder can set
    aside while it waits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holder: int | None = None
        self._depth = 0

    def take(self) -> None:
        me = threading.get_ident()
        if self._holder == me:
            self._depth += 1
            return
        self._lock.acquire()
        self._holder, self._depth = me, 1

    def give(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._holder = None
            self._lock.release()

    @contextmanager
    def set_aside(self) -> Iterator[None]:
        """Let other threads have the connection for the block (no-op for a thread that
        does not hold it)."""
        me = threading.get_ident()
        if self._holder != me:
            yield
            return
        depth = self._depth
        self._holder, self._depth = None, 0
        self._lock.release()
        try:
            yield
        finally:
            self._lock.acquire()
            self._holder, self._depth = me, depth


_turns: "weakref.WeakKeyDictionary[BaseDatabaseWrapper, Turns]" = weakref.WeakKeyDictionary()
_turns_lock = threading.Lock()


def turns_of(connection: BaseDatabaseWrapper) -> Turns:
    with _turns_lock:
        turns = _turns.get(connection)
        if turns is None:
            turns = _turns[connection] = Turns()
        return turns


@contextmanager
def borrowed_connection(connection: BaseDatabaseWrapper | None) -> Iterator[None]:
    """Use ``connection`` (the run's caller's) in this thread for the block, in turn. Nests:
    what the thread held before is put back."""
    if connection is None:
        yield
        return
    turns = turns_of(connection)
    turns.take()
    try:
        held = [c for c in connections.all(initialized_only=True) if c.alias == DEFAULT_DB_ALIAS]
        if connection._thread_ident == threading.get_ident() or (held and held[0] is connection):
            yield
            return
        connections[DEFAULT_DB_ALIAS] = connection
        try:
            yield
        finally:
            if held:
                connections[DEFAULT_DB_ALIAS] = held[0]
            else:
                del connections[DEFAULT_DB_ALIAS]
    finally:
        turns.give()


@contextmanager
def waiting() -> Iterator[None]:
    """Step aside from this thread's connection while the block waits (on the network, on
    other threads); a thread that holds no turn just runs the block."""
    held = [c for c in connections.all(initialized_only=True) if c.alias == DEFAULT_DB_ALIAS]
    if not held:
        yield
        return
    with turns_of(held[0]).set_aside():
        yield
