"""Talking to one MCP server with the official ``mcp`` SDK: list its tools, call one.

Each operation opens its own session (connect, initialize, one request, close): a run's
tools are called from worker threads that come and go, and a session per call needs no
pool to keep healthy. HTTP connections are made by ``plugins.safe_http.async_client``, so
the SSRF guard checks every connection (redirects and DNS rebinding included); stdio
servers are started by ``stdio.stdio_streams``.

Everything that can go wrong (refused, blocked address, time-out, HTTP errors, a malformed
message, the server going away, too many tools) raises ``ServerFailed`` with a code and a
message for a person or a model, with the server's secrets scrubbed out. A run's
``check`` is polled while waiting: when the run stops, the call stops with it.
"""

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import anyio
import httpx
from mcp import ClientSession, McpError, types
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from pydantic import ValidationError

from apps.mcp_servers.models import Transport
from apps.mcp_servers.stdio import ServerOutputTooLarge, StdioCommand, stdio_streams
from plugins import safe_http
from plugins.base import ToolResult
from plugins.scrubbing import scrub

logger = logging.getLogger(__name__)

#: The most tools one server may list.
MAX_TOOLS = 256
MAX_DESCRIPTION_CHARS = 4_000
MAX_TOOL_NAME_CHARS = 128
#: What a tool's answer may be, in characters of text.
MAX_CONTENT_CHARS = 100_000
#: What one HTTP response (an event stream included) may be, in bytes.
MAX_RESPONSE_BYTES = 8_000_000
CHECK_INTERVAL_SECONDS = 0.1
CLIENT_INFO = types.Implementation(name="ministudio", version="1")

T = TypeVar("T")


class ServerFailed(Exception):
    """The server could not be used; ``code`` says how, ``message`` says it in words."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Endpoint:
    """How to reach one server, secrets decrypted (never logged, never shown)."""

    name: str
    transport: str
    timeout_seconds: float
    url: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    command: StdioCommand | None = None

    @property
    def secrets(self) -> list[str]:
        return [value for value in self.headers.values() if len(value) >= 4]


@dataclass(frozen=True)
class ListedTool:
    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True)
class Listing:
    server_name: str
    server_version: str
    tools: list[ListedTool]


def list_tools(endpoint: Endpoint) -> Listing:
    """Connect and list every tool (following pages); ``ServerFailed`` past ``MAX_TOOLS``."""

    async def work(session: ClientSession, info: types.InitializeResult) -> Listing:
        tools: list[types.Tool] = []
        cursor: str | None = None
        while True:
            page = await session.list_tools(
                params=types.PaginatedRequestParams(cursor=cursor) if cursor else None
            )
            tools += page.tools
            if len(tools) > MAX_TOOLS:
                raise ServerFailed(
                    "McpTooManyTools",
                    f"The MCP server '{endpoint.name}' lists more than {MAX_TOOLS} tools"
                    f" ({len(tools)} so far); ministudio takes at most {MAX_TOOLS} from one"
                    " server. Split them across servers or filter them on the server.",
                )
            cursor = page.nextCursor
            if not cursor:
                break
        _check_names(endpoint, tools)
        return Listing(
            server_name=info.serverInfo.name[:200],
            server_version=info.serverInfo.version[:100],
            tools=[_listed(tool) for tool in tools],
        )

    return _run(endpoint, work)


def call_tool(
    endpoint: Endpoint,
    name: str,
    arguments: dict[str, Any],
    check: Callable[[], None] | None = None,
) -> ToolResult:
    """Call the tool ``name``; its answer (``is_error`` when the tool says it failed)."""

    async def work(session: ClientSession, info: types.InitializeResult) -> ToolResult:
        try:
            result = await session.call_tool(name, arguments)
        except McpError as exc:
            if exc.error.code == types.CONNECTION_CLOSED:
                raise
            # The server refused the call (an unknown tool, bad arguments): the model reads it.
            return ToolResult(
                content=f"The MCP server refused the call: {exc.error.message}", is_error=True
            )
        return _result(result)

    result = _run(endpoint, work, check)
    return ToolResult(
        content=scrub(result.content, endpoint.secrets),
        data=scrub(result.data, endpoint.secrets),
        is_error=result.is_error,
    )


def _check_names(endpoint: Endpoint, tools: list[types.Tool]) -> None:
    """Tool names are 1 to 128 characters and distinct (the MCP spec's rule, and what a
    stored tool is known by)."""
    seen: set[str] = set()
    for tool in tools:
        if not 1 <= len(tool.name) <= MAX_TOOL_NAME_CHARS or tool.name in seen:
            shown = tool.name[:60] + ("…" if len(tool.name) > 60 else "")
            problem = (
                "twice" if tool.name in seen else f"with a name of {len(tool.name)} characters"
            )
            raise ServerFailed(
                "McpMalformed",
                f"The MCP server '{endpoint.name}' lists the tool '{shown}' {problem}; tool "
                f"names are 1 to {MAX_TOOL_NAME_CHARS} characters and distinct.",
            )
        seen.add(tool.name)


def _listed(tool: types.Tool) -> ListedTool:
    return ListedTool(
        name=tool.name,
        description=(tool.description or tool.title or "")[:MAX_DESCRIPTION_CHARS],
        input_schema=tool.inputSchema or {"type": "object", "properties": {}},
    )


def _result(result: types.CallToolResult) -> ToolResult:
    """The SDK's result as a tool result: the text parts joined, other parts named."""
    parts = []
    for item in result.content:
        if isinstance(item, types.TextContent):
            parts.append(item.text)
        elif isinstance(item, types.EmbeddedResource):
            resource = item.resource
            text = getattr(resource, "text", None)
            parts.append(text if text is not None else f"[resource {resource.uri}]")
        elif isinstance(item, types.ResourceLink):
            parts.append(f"[resource {item.uri}]")
        else:  # an image or audio: a model reading text can only be told it is there
            parts.append(f"[{item.type} ({getattr(item, 'mimeType', '')})]")
    content = "\n".join(parts)
    if not content and result.structuredContent is not None:
        content = _json_text(result.structuredContent)
    if len(content) > MAX_CONTENT_CHARS:
        content = content[:MAX_CONTENT_CHARS] + f"\n[... cut at {MAX_CONTENT_CHARS} characters]"
    data = result.structuredContent if result.structuredContent is not None else None
    return ToolResult(
        content=content or "(the tool returned nothing)", data=data, is_error=bool(result.isError)
    )


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# --- one session ------------------------------------------------------------------------------

Work = Callable[[ClientSession, types.InitializeResult], Awaitable[T]]


def _run(endpoint: Endpoint, work: Work[T], check: Callable[[], None] | None = None) -> T:
    """Run ``work`` in a fresh session, in this thread, within the server's time-out."""
    try:
        return anyio.run(_bounded, endpoint, work, check)
    except ServerFailed as exc:
        raise ServerFailed(exc.code, scrub(exc.message, endpoint.secrets)) from None


async def _bounded(endpoint: Endpoint, work: Work[T], check: Callable[[], None] | None) -> T:
    outcome: list[T] = []
    malformed: list[Exception] = []
    try:
        with anyio.fail_after(endpoint.timeout_seconds):
            async with anyio.create_task_group() as tasks:
                if check is not None:
                    tasks.start_soon(_watch, check)

                async def on_message(message: Any) -> None:
                    # The SDK hands a message it could not read to the session's handler
                    # and goes on waiting: stop at once, with what went wrong.
                    if isinstance(message, Exception):
                        malformed.append(message)
                        tasks.cancel_scope.cancel()

                async def main() -> None:
                    async with _session(endpoint, on_message) as (session, info):
                        outcome.append(await work(session, info))
                    tasks.cancel_scope.cancel()

                tasks.start_soon(main)
    except TimeoutError:
        raise ServerFailed(
            "McpTimeout",
            f"The MCP server '{endpoint.name}' did not answer within "
            f"{endpoint.timeout_seconds:g} seconds.",
        ) from None
    except BaseException as exc:
        leaf = _leaf(exc)
        if isinstance(leaf, _CallerStopped):
            raise leaf.reason from None
        raise _failure(endpoint, leaf) from None
    if malformed:
        raise _failure(endpoint, malformed[0])
    if not outcome:  # cancelled by the watcher without an exception: cannot happen
        raise ServerFailed("McpDisconnected", f"The MCP server '{endpoint.name}' went away.")
    return outcome[0]


class _CallerStopped(BaseException):
    """What ``check`` raised, carried out of the session untouched by classification."""

    def __init__(self, reason: Exception) -> None:
        super().__init__(reason)
        self.reason = reason


async def _watch(check: Callable[[], None]) -> None:
    """Stop the call with what ``check`` raises (the run stopped), polling it while the
    call waits."""
    while True:
        try:
            check()
        except Exception as exc:
            raise _CallerStopped(exc) from exc
        await anyio.sleep(CHECK_INTERVAL_SECONDS)


@asynccontextmanager
async def _session(
    endpoint: Endpoint, on_message: Callable[[Any], Awaitable[None]]
) -> AsyncIterator[tuple[ClientSession, types.InitializeResult]]:
    async with (
        _streams(endpoint) as (read, write),
        ClientSession(
            read,
            write,
            read_timeout_seconds=timedelta(seconds=endpoint.timeout_seconds),
            message_handler=on_message,
            client_info=CLIENT_INFO,
        ) as session,
    ):
        info = await session.initialize()
        yield session, info


@asynccontextmanager
async def _streams(endpoint: Endpoint) -> AsyncIterator[tuple[Any, Any]]:
    if endpoint.transport == Transport.STDIO:
        assert endpoint.command is not None
        async with stdio_streams(endpoint.command) as (read, write, _process):
            yield read, write
        return
    # A clear refusal before the SDK starts (the guarded client checks again on connect).
    await anyio.to_thread.run_sync(safe_http.check_destination, endpoint.url)
    factory = _http_client
    timeout = httpx.Timeout(endpoint.timeout_seconds)
    if endpoint.transport == Transport.SSE:
        async with sse_client(
            endpoint.url,
            headers=endpoint.headers,
            timeout=endpoint.timeout_seconds,
            sse_read_timeout=endpoint.timeout_seconds,
            httpx_client_factory=factory,
        ) as (read, write):
            yield read, write
        return
    async with (
        factory(headers=endpoint.headers, timeout=timeout) as client,
        streamable_http_client(endpoint.url, http_client=client) as (read, write, _),
    ):
        yield read, write


def _http_client(
    headers: dict[str, str] | None = None,
    timeout: httpx.Timeout | None = None,
    auth: httpx.Auth | None = None,
) -> httpx.AsyncClient:
    """The SDK's ``httpx_client_factory``: the guarded client, failing on HTTP errors."""
    client = safe_http.async_client(
        headers=headers, timeout=timeout, auth=auth, max_bytes=MAX_RESPONSE_BYTES
    )
    client.event_hooks = {"response": [_refuse_http_errors]}
    return client


async def _refuse_http_errors(response: httpx.Response) -> None:
    # The SDK answers a 404 (read as "session expired") by waiting for ever, and other
    # statuses by logging them; a session here lives for one call, so any error status
    # is the answer. (The SDK catches it where a status is expected: a GET stream's 405.)
    if response.status_code >= 400:
        response.raise_for_status()


# --- what went wrong --------------------------------------------------------------------------


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup):
        inner = [e for e in exc.exceptions if not isinstance(e, anyio.get_cancelled_exc_class())]
        exc = (inner or list(exc.exceptions))[0]
    return exc


def _failure(endpoint: Endpoint, exc: BaseException) -> BaseException:
    """``exc`` as a ``ServerFailed``; what is not the server's doing (the run stopped)
    is returned as it is, to be raised as it is."""
    where = f"The MCP server '{endpoint.name}'"
    if isinstance(exc, ServerFailed):
        return exc
    if isinstance(exc, safe_http.BlockedAddress):
        return ServerFailed("McpBlockedAddress", str(exc))
    if isinstance(exc, safe_http.ResponseTooLarge | ServerOutputTooLarge):
        return ServerFailed("McpOutputTooLarge", f"{where} sent too much: {exc}")
    if isinstance(exc, safe_http.RequestFailed):
        return ServerFailed("McpUnreachable", f"{where} could not be reached: {exc}")
    if isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
        hint = " (check its headers or bearer token)" if status in (401, 403) else ""
        return ServerFailed("McpHttpError", f"{where} answered HTTP {status}{hint}.")
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return ServerFailed("McpTimeout", f"{where} did not answer in time.")
    if isinstance(exc, httpx.ConnectError | ConnectionError):
        return ServerFailed("McpUnreachable", f"{where} refused the connection ({exc}).")
    if isinstance(exc, McpError):
        if exc.error.code == types.CONNECTION_CLOSED:
            return ServerFailed("McpDisconnected", f"{where} closed the connection mid-call.")
        return ServerFailed(
            "McpServerError", f"{where} answered with an error: {exc.error.message}"
        )
    if isinstance(
        exc,
        anyio.EndOfStream
        | anyio.ClosedResourceError
        | anyio.BrokenResourceError
        | httpx.RemoteProtocolError
        | httpx.ReadError,
    ):
        return ServerFailed("McpDisconnected", f"{where} closed the connection mid-call.")
    if isinstance(exc, ValidationError | ValueError):
        return ServerFailed("McpMalformed", f"{where} sent a malformed message: {_short(exc)}")
    if isinstance(exc, FileNotFoundError | PermissionError):
        return ServerFailed("McpUnreachable", f"{where} could not be started: {exc}")
    if isinstance(exc, Exception):
        logger.warning("MCP server %s failed: %s", endpoint.name, type(exc).__name__)
        return ServerFailed("McpFailed", f"{where} failed ({type(exc).__name__}): {_short(exc)}")
    return exc


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] + ("…" if len(text) > 300 else "")
