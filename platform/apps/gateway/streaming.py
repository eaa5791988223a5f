"""Serving a blocking stream (a provider's generator) from the ASGI server, chunk by chunk.

Django would buffer a synchronous iterator whole before sending it under ASGI, so the
stream runs in a thread of its own that hands each item to the event loop as it comes.
When the client goes away, Django cancels the response; the thread then stops at the next
item and closes the generator, which closes the upstream connection, so an abandoned
request stops costing tokens.
"""

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.http import StreamingHttpResponse

from plugins.base import UpstreamError
from studio.errors import ApiError

_END = object()


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


def event_stream_response(frames: Iterator[str]) -> StreamingHttpResponse:
    """An SSE response that sends each frame as soon as it exists."""
    response = StreamingHttpResponse(stream_in_threads(frames), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # let a proxy pass frames through at once
    return response


def named_event(name: str, data: dict[str, Any]) -> str:
    """One SSE event of the console's streams (``event: text``, ``done``, ``error``...)."""
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


def stream_failure(exc: ApiError | UpstreamError) -> tuple[int, str, str]:
    """The status, code and message a stream reports for a failure half-way, when the
    status line is long gone: an API error's own, or a model server's as a 502."""
    if isinstance(exc, ApiError):
        return exc.status, exc.code, exc.message
    return 502, "InternalError.Upstream", exc.message
