"""Serving a blocking stream (a provider's generator) from the ASGI server, chunk by chunk.

Django would buffer a synchronous iterator whole before sending it under ASGI, so the
stream runs in a thread of its own that hands each item to the event loop as it comes.
When the client goes away, Django cancels the response; the thread then stops at the next
item and closes the generator, which closes the upstream connection, so an abandoned
request stops costing tokens.
"""

import asyncio
import contextlib
import itertools
import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import connections
from django.http import StreamingHttpResponse

from kernel.errors import ApiError, failure_of
from plugins.base import UpstreamError

_END: Any = object()
T = TypeVar("T")


@dataclass(frozen=True)
class _Failure:
    error: BaseException


async def stream_in_threads(items: Iterator[str]) -> AsyncIterator[str]:
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
                close()  # in this thread, where the generator last ran
            # A stream that touched the database (an agent run records itself) opened
            # this thread's own connection; the thread ends here, so must it.
            connections.close_all()
            hand_over(_END)

    threading.Thread(target=produce, name="stream", daemon=True).start()
    try:
        while (item := await queue.get()) is not _END:
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()


def started(items: Iterator[T]) -> Iterator[T]:
    """``items`` with the first one already pulled, before the response starts: whatever
    refuses the call (the model's route, a quota, the upstream's own 429) then fails the
    request with its status and headers, not as an error frame inside a 200 stream."""
    first = next(items, _END)
    return itertools.chain([] if first is _END else [first], items)


def event_stream_response(frames: Iterator[str]) -> StreamingHttpResponse:
    """An SSE response that sends each frame as soon as it exists."""
    response = StreamingHttpResponse(stream_in_threads(frames), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # let a proxy pass frames through at once
    return response


def named_event(name: str, data: dict[str, Any]) -> str:
    """One SSE event of the console's streams (``event: text``, ``done``, ``error``...)."""
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


def error_event(exc: ApiError | UpstreamError, request_id: str) -> str:
    """The console streams' ``error`` event for a failure half-way, when the status line is
    long gone: the code, message and retry hint the failure has as a response."""
    failure = failure_of(exc, request_id)
    data: dict[str, Any] = {"code": failure.code, "message": failure.message}
    if failure.retry_after:
        data["retry_after"] = failure.retry_after
    return named_event("error", data)
