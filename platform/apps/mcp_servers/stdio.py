"""Starting an allow-listed stdio MCP server and speaking JSON-RPC lines with it.

The ``mcp`` SDK's ``stdio_client`` is not used, on purpose: it merges the platform's own
environment (HOME, USER, SHELL...) into the child's, sends the child's stderr to ours, and
reads stdout without a limit. Here the child gets only ``PATH=/usr/bin:/bin``, ``LC_ALL=C``
and what the admin's allow-list entry sets (as the diagnostics shell does), no shell, its
own session, stderr kept to its last few lines for error messages, and stdout cut off
past ``MAX_OUTPUT_BYTES``. The streams it yields are the SDK's (``SessionMessage``), so the
SDK's ``ClientSession`` speaks the protocol over them.
"""

import json
import os
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

import anyio
from anyio.abc import Process
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from django.conf import settings
from mcp import types
from mcp.shared.message import SessionMessage

from kernel.errors import InvalidParameter

SAFE_PATH = "/usr/bin:/bin"
#: What one session may read from the server's stdout, in all.
MAX_OUTPUT_BYTES = 8_000_000
STDERR_TAIL_BYTES = 2_000
#: How long a server may take to exit once its stdin is closed.
EXIT_GRACE_SECONDS = 2.0


@dataclass(frozen=True)
class StdioCommand:
    """An entry of ``settings.MCP_STDIO_COMMANDS``: what the platform admin allows."""

    name: str
    argv: tuple[str, ...]
    description: str = ""
    env: dict[str, str] = field(default_factory=dict)


def allowed_commands() -> dict[str, StdioCommand]:
    """The allow-list, by name (empty unless the platform admin configured one)."""
    return {
        name: StdioCommand(
            name=name,
            argv=tuple(entry["command"]),
            description=entry.get("description", ""),
            env=dict(entry.get("env") or {}),
        )
        for name, entry in settings.MCP_STDIO_COMMANDS.items()
    }


def allowed_command(name: str) -> StdioCommand:
    """The allow-listed command ``name``; ``InvalidParameter`` when it is not listed."""
    commands = allowed_commands()
    if name not in commands:
        listed = ", ".join(sorted(commands)) or "none: the platform admin has listed none"
        raise InvalidParameter(
            f"command: '{name}' is not an allowed stdio MCP server (allowed: {listed})",
            code="McpCommandNotAllowed",
        )
    return commands[name]


class ServerOutputTooLarge(Exception):
    """The server wrote more than ``MAX_OUTPUT_BYTES`` to stdout in one session."""


@dataclass
class StdioProcess:
    """The running server's stderr tail, for error messages."""

    stderr_tail: bytes = b""

    def last_words(self) -> str:
        text = self.stderr_tail.decode("utf-8", errors="replace").strip()
        return text[-500:]


@asynccontextmanager
async def stdio_streams(
    command: StdioCommand,
) -> AsyncIterator[
    tuple[
        MemoryObjectReceiveStream[SessionMessage | Exception],
        MemoryObjectSendStream[SessionMessage],
        StdioProcess,
    ]
]:
    """Start ``command`` and yield the SDK's read and write streams for it."""
    env = {"PATH": SAFE_PATH, "LC_ALL": "C", **command.env}
    process = await anyio.open_process(
        list(command.argv),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=os.path.dirname(command.argv[0]) or "/",
        start_new_session=True,
    )
    incoming_writer, incoming = anyio.create_memory_object_stream[SessionMessage | Exception](16)
    outgoing, outgoing_reader = anyio.create_memory_object_stream[SessionMessage](16)
    state = StdioProcess()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(_read_stdout, process, incoming_writer)
        tasks.start_soon(_write_stdin, process, outgoing_reader)
        tasks.start_soon(_keep_stderr_tail, process, state)
        try:
            yield incoming, outgoing, state
        finally:
            await _stop(process)
            tasks.cancel_scope.cancel()


async def _read_stdout(
    process: Process, writer: MemoryObjectSendStream[SessionMessage | Exception]
) -> None:
    assert process.stdout is not None
    buffer = b""
    read = 0
    async with writer:
        try:
            async for chunk in process.stdout:
                read += len(chunk)
                if read > MAX_OUTPUT_BYTES:
                    await writer.send(
                        ServerOutputTooLarge(
                            f"the server wrote more than {MAX_OUTPUT_BYTES:,} bytes; "
                            "ministudio stopped reading it"
                        )
                    )
                    return
                *lines, buffer = (buffer + chunk).split(b"\n")
                for line in lines:
                    if line.strip():
                        await writer.send(_message(line))
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            return


def _message(line: bytes) -> SessionMessage | Exception:
    try:
        return SessionMessage(types.JSONRPCMessage.model_validate_json(line))
    except ValueError:  # pydantic's ValidationError is a ValueError
        excerpt = line[:200].decode("utf-8", errors="replace")
        return ValueError(f"the server wrote a line that is not a JSON-RPC message: {excerpt!r}")


async def _write_stdin(process: Process, reader: MemoryObjectReceiveStream[SessionMessage]) -> None:
    assert process.stdin is not None
    async with reader:
        try:
            async for message in reader:
                data = message.message.model_dump(by_alias=True, exclude_none=True, mode="json")
                line = json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"
                await process.stdin.send(line.encode())
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            return


async def _keep_stderr_tail(process: Process, state: StdioProcess) -> None:
    assert process.stderr is not None
    with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
        async for chunk in process.stderr:
            state.stderr_tail = (state.stderr_tail + chunk)[-STDERR_TAIL_BYTES:]


async def _stop(process: Process) -> None:
    """Close stdin and wait; then terminate, then kill (the MCP spec's shutdown); then
    close the pipes, before the event loop that owns them ends."""
    with anyio.CancelScope(shield=True):
        if process.stdin is not None:
            with suppress(Exception):
                await process.stdin.aclose()
        await _ended(process)
        with suppress(Exception):
            await process.aclose()


async def _ended(process: Process) -> None:
    with anyio.move_on_after(EXIT_GRACE_SECONDS):
        await process.wait()
        return
    with suppress(ProcessLookupError):
        process.terminate()
    with anyio.move_on_after(EXIT_GRACE_SECONDS):
        await process.wait()
        return
    with suppress(ProcessLookupError):
        process.kill()
    await process.wait()
