"""Serving a stream from the ASGI server, frame by frame.

The SDK surfaces' views are async and stream async iterators straight to the event loop.
The console's and the app API's streams are still blocking generators (an agent run):
Django would buffer a synchronous iterator whole under ASGI, so such a stream runs on a
thread of its own that hands each item to the loop as it comes. Either way, when the
client goes away Django cancels the response; the stream is closed, which closes the
upstream connection, so an abandoned request stops costing tokens.
"""

import itertools
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeVar

from django.db import connections
from django.http import StreamingHttpResponse

from kernel.errors import ApiError, failure_of
from plugins.async_streams import aclose
from plugins.base import UpstreamError
from plugins.threaded_iteration import iterate_in_thread

_END: Any = object()
T = TypeVar("T")


def stream_in_threads(items: Iterator[str]) -> AsyncIterator[str]:
    # A stream that touched the database (an agent run records itself) opened its
    # thread's own connection; the thread ends with the stream, so must the connection.
    return iterate_in_thread(items, on_thread_end=connections.close_all)


def started(items: Iterator[T]) -> Iterator[T]:
    """``items`` with the first one already pulled, before the response starts: whatever
    refuses the call (the model's route, a quota, the upstream's own 429) then fails the
    request with its status and headers, not as an error frame inside a 200 stream."""
    first = next(items, _END)
    return itertools.chain([] if first is _END else [first], items)


async def astarted(items: AsyncIterator[T]) -> AsyncIterator[T]:
    """``started`` for an async stream: await it before building the response."""
    first = await anext(items, _END)

    async def rest() -> AsyncIterator[T]:
        try:
            if first is not _END:
                yield first
                async for item in items:
                    yield item
        finally:
            await aclose(items)

    return rest()


def event_stream_response(frames: Iterator[str] | AsyncIterator[str]) -> StreamingHttpResponse:
    """An SSE response that sends each frame as soon as it exists."""
    body = frames if isinstance(frames, AsyncIterator) else stream_in_threads(frames)
    response = StreamingHttpResponse(body, content_type="text/event-stream")
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
