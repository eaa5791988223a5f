"""A blocking iterator consumed from async code without blocking the event loop.

The iterator runs on a thread of its own, which hands each item to the loop as it comes.
Closing the async iterator (the consumer went away) makes the thread stop at the next item
and close the iterator there, where it last ran, so a generator's ``finally`` (closing an
upstream connection) runs as it would have in the caller's thread. asyncio's
``to_thread`` runs one call; nothing in the standard library bridges a whole iterator.
"""

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
_END: Any = object()


@dataclass(frozen=True)
class _Failure:
    error: BaseException


async def iterate_in_thread(
    items: Iterator[T], *, on_thread_end: Callable[[], None] | None = None
) -> AsyncIterator[T]:
    """``items``, one by one, produced on a thread; ``on_thread_end`` runs on that thread
    once it is done (the platform closes the thread's database connection there)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    stop = threading.Event()

    def hand_over(item: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is listening
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def produce() -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                if stop.is_set():
                    break
                hand_over(item)
        except Exception as exc:
            hand_over(_Failure(exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
            if on_thread_end is not None:
                on_thread_end()
            hand_over(_END)

    threading.Thread(target=produce, name="iterate-in-thread", daemon=True).start()
    try:
        while (item := await queue.get()) is not _END:
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
