"""Writes of MCP servers (register, change, delete, refresh their tools, switch a tool on
or off) and using one (test the connection, call a tool).

Registering or changing how a server is reached lists its tools at once; when that fails
the server is kept, with the failure in ``last_error_*``, so that the developer sees why
and can fix it. A tool call never raises for what the server does: refusals, time-outs,
malformed answers and a server that went away are error results a model reads.
"""

import re
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import jsonschema
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import User, Workspace
from apps.http_tools.json_schema import validation_errors
from apps.http_tools.services import secret_text
from apps.mcp_servers import checks, connection
from apps.mcp_servers.connection import Endpoint, ServerFailed
from apps.mcp_servers.models import McpServer, McpTool, Transport
from apps.mcp_servers.stdio import allowed_commands
from apps.plugins.invocation import Invocation
from apps.usage.models import CallStatus
from apps.usage.recorder import ToolCallTags, record_tool_call
from kernel.encryption import DecryptionFailed, decrypt_json, encrypt_json
from kernel.errors import Conflict, InvalidParameter
from plugins.base import ToolResult, ToolSpec

#: What a header's value is shown as, and sent back as to keep it.
MASK = "***"
_NOT_FUNCTION_NAME = re.compile(r"[^A-Za-z0-9_-]+")
#: Fields that change how the server is reached: changing one lists the tools again.
_CONNECTION_FIELDS = {"transport", "url", "command", "headers", "bearer_token"}


# --- writes -----------------------------------------------------------------------------------


def create_mcp_server(
    workspace: Workspace,
    *,
    name: str,
    transport: str,
    url: str | None = None,
    command: str | None = None,
    headers: dict[str, str] | None = None,
    bearer_token: str | None = None,
    timeout_seconds: int = 30,
    by: User | None = None,
) -> McpServer:
    """Register a server and list its tools (see the module's docstring on failures)."""
    server = McpServer(workspace=workspace, created_by=by)
    _apply(
        server,
        {
            "name": name,
            "transport": transport,
            "url": url,
            "command": command,
            "headers": headers or {},
            "bearer_token": bearer_token,
            "timeout_seconds": timeout_seconds,
        },
        stored_secrets={},
    )
    _save(server)
    return refresh_tools(server)


def update_mcp_server(server: McpServer, **changes: Any) -> McpServer:
    """Change any field of ``create_mcp_server``. ``headers`` replaces the set, a value of
    ``***`` keeping that header's stored value; ``bearer_token`` left out keeps the stored
    one, ``""`` removes it."""
    editable = {"name", "timeout_seconds", *_CONNECTION_FIELDS}
    unknown = set(changes) - editable
    if unknown:
        raise InvalidParameter(f"Unknown fields: {', '.join(sorted(unknown))}")
    stored = secrets_of(server)
    # A new transport starts from a blank connection: what reached the old one is dropped.
    same_transport = changes.get("transport", server.transport) == server.transport
    fields = {
        "name": server.name,
        "transport": server.transport,
        "url": (server.url or None) if same_transport else None,
        "command": (server.command or None) if same_transport else None,
        "headers": {name: MASK for name in server.header_names} if same_transport else {},
        "bearer_token": None,
        "timeout_seconds": server.timeout_seconds,
        **changes,
    }
    keep_token = same_transport and "bearer_token" not in changes
    _apply(server, fields, stored_secrets=stored, keep_token=keep_token)
    _save(server)
    return refresh_tools(server) if _CONNECTION_FIELDS & set(changes) else server


def delete_mcp_server(server: McpServer) -> None:
    server.delete()


def set_tool_enabled(tool: McpTool, enabled: bool) -> McpTool:
    tool.enabled = enabled
    tool.save(update_fields=["enabled"])
    return tool


def refresh_tools(server: McpServer) -> McpServer:
    """List the server's tools and store them: a tool keeps its switch while the server
    lists it; one it no longer lists is removed (apps that named it stop offering it). A
    failure is stored on the server, and its tools are kept as they were."""
    try:
        listing = connection.list_tools(endpoint_of(server))
    except ServerFailed as exc:
        server.last_error_code, server.last_error_message = exc.code, exc.message
        server.save(update_fields=["last_error_code", "last_error_message", "updated_at"])
        return server
    with transaction.atomic():
        _store_tools(server, listing.tools)
        server.server_name = listing.server_name
        server.server_version = listing.server_version
        server.tools_refreshed_at = timezone.now()
        server.last_error_code = server.last_error_message = ""
        server.save()
    # The prefetched list (if any) is stale now.
    getattr(server, "_prefetched_objects_cache", {}).pop("tools", None)
    return server


def _store_tools(server: McpServer, listed: list[connection.ListedTool]) -> None:
    existing = {tool.name: tool for tool in server.tools.all()}
    names = {tool.name for tool in listed}
    server.tools.exclude(name__in=names).delete()
    for position, item in enumerate(listed):
        tool = existing.get(item.name) or McpTool(
            workspace=server.workspace, server=server, name=item.name
        )
        tool.description = item.description
        tool.input_schema = item.input_schema
        tool.position = position
        tool.save()


# --- settings ---------------------------------------------------------------------------------


def _apply(
    server: McpServer,
    fields: dict[str, Any],
    *,
    stored_secrets: dict[str, Any],
    keep_token: bool = False,
) -> None:
    """Check ``fields`` and set them on ``server`` (secrets encrypted)."""
    server.name = checks.checked_name(fields["name"])
    server.transport = checks.checked_transport(fields["transport"])
    server.timeout_seconds = checks.checked_timeout(fields["timeout_seconds"])
    if server.transport == Transport.STDIO:
        if fields.get("url") or fields.get("headers") or fields.get("bearer_token"):
            raise InvalidParameter(
                "url, headers and bearer_token: only for the HTTP transports", param="url"
            )
        server.command, server.url = checks.checked_command(fields.get("command")), ""
        server.header_names, server.encrypted_secrets = [], ""
        return
    if fields.get("command"):
        raise InvalidParameter("command: only for the stdio transport", param="command")
    server.url, server.command = checks.checked_url(fields.get("url")), ""
    token = fields.get("bearer_token")
    if token is None and keep_token:
        token = stored_secrets.get("bearer_token")
    token = secret_text(token, "bearer_token") if token else None
    headers = _unmasked(fields.get("headers"), stored_secrets.get("headers") or {})
    headers = checks.checked_headers(headers, token)
    server.header_names = list(headers)
    secrets = {"headers": headers, "bearer_token": token}
    server.encrypted_secrets = encrypt_json(secrets) if headers or token else ""


def _unmasked(headers: Any, stored: dict[str, str]) -> Any:
    """``headers`` with each ``***`` value replaced by the stored value of that header."""
    if not isinstance(headers, dict):
        return headers
    unmasked = {}
    for name, value in headers.items():
        if value == MASK:
            if name not in stored:
                raise InvalidParameter(
                    f"headers.{name}: '***' keeps a stored value, and none is stored",
                    param="headers",
                )
            value = stored[name]
        unmasked[name] = value
    return unmasked


def secrets_of(server: McpServer) -> dict[str, Any]:
    """The stored headers and bearer token (decrypted; never shown)."""
    return decrypt_json(server.encrypted_secrets) if server.encrypted_secrets else {}


def _save(server: McpServer) -> None:
    try:
        with transaction.atomic():
            server.save()
    except IntegrityError:
        raise Conflict(f"An MCP server named '{server.name}' exists in this workspace.") from None


# --- using a server ---------------------------------------------------------------------------


def endpoint_of(server: McpServer) -> Endpoint:
    """How to reach ``server`` now; ``ServerFailed`` when it cannot be (its command taken
    off the allow-list, its secrets unreadable with the current keys)."""
    timeout = float(server.timeout_seconds)
    if server.transport == Transport.STDIO:
        command = allowed_commands().get(server.command)
        if command is None:
            raise ServerFailed(
                "McpCommandNotAllowed",
                f"The stdio command '{server.command}' is no longer on the platform's "
                "allow-list (MINISTUDIO_MCP_STDIO_COMMANDS).",
            )
        return Endpoint(server.name, server.transport, timeout, command=command)
    try:
        secrets = secrets_of(server)
    except DecryptionFailed as exc:
        raise ServerFailed("McpSecretUnreadable", exc.message) from None
    headers = dict(secrets.get("headers") or {})
    if secrets.get("bearer_token"):
        headers["Authorization"] = f"Bearer {secrets['bearer_token']}"
    return Endpoint(server.name, server.transport, timeout, url=server.url, headers=headers)


@dataclass(frozen=True)
class ConnectionTest:
    ok: bool
    duration_ms: int
    server_name: str | None = None
    server_version: str | None = None
    tool_count: int | None = None
    error: ServerFailed | None = None


def test_connection(server: McpServer) -> ConnectionTest:
    """Connect and list the tools, storing nothing."""
    began = time.monotonic()
    try:
        listing = connection.list_tools(endpoint_of(server))
    except ServerFailed as exc:
        return ConnectionTest(ok=False, duration_ms=_ms_since(began), error=exc)
    return ConnectionTest(
        ok=True,
        duration_ms=_ms_since(began),
        server_name=listing.server_name,
        server_version=listing.server_version,
        tool_count=len(listing.tools),
    )


def function_name(tool: McpTool) -> str:
    """The name a model calls ``tool`` by: ``<server>__<tool>``, in the characters and
    length function names may have."""
    name = _NOT_FUNCTION_NAME.sub("_", f"{tool.server.name}__{tool.name}")
    return name[:64]


def tool_spec(tool: McpTool) -> ToolSpec:
    """The tool as a chat model is offered it."""
    return ToolSpec(
        name=function_name(tool), description=tool.description, parameters=tool.input_schema
    )


def invoke_mcp_tool(
    tool: McpTool,
    arguments: dict[str, Any],
    *,
    check: Callable[[], None] | None = None,
    tags: ToolCallTags | None = None,
    waiting: Callable[[], AbstractContextManager[None]] = nullcontext,
) -> Invocation:
    """Call ``tool`` with ``arguments`` (``InvalidParameter`` when they break its schema);
    whatever the server does comes back as the result. ``check`` is polled while the call
    waits (the run's cancellation); ``tags`` meter the call for the run that made it;
    ``waiting`` wraps the wait on the server (a run's threads share one database
    connection and take turns: a thread waiting on the network steps aside)."""
    if not isinstance(arguments, dict):
        raise InvalidParameter("arguments: must be an object")
    try:
        errors = validation_errors(arguments, tool.input_schema)
    except jsonschema.SchemaError:
        errors = []  # the server's schema is broken: the server itself must judge
    if errors:
        raise InvalidParameter("; ".join(errors[:20]))
    began = time.monotonic()
    error_code = ""
    try:
        endpoint = endpoint_of(tool.server)
        with waiting():
            result = connection.call_tool(endpoint, tool.name, arguments, check)
    except ServerFailed as exc:
        error_code = exc.code
        result = ToolResult(content=exc.message, data={"code": exc.code}, is_error=True)
    duration_ms = _ms_since(began)
    if tags is not None:
        record_tool_call(
            tool.workspace_id,
            f"mcp:{tool.server.name}/{tool.name}",
            tags=tags,
            latency_ms=duration_ms,
            status=CallStatus.ERROR if result.is_error else CallStatus.OK,
            error_code=error_code or ("ToolError" if result.is_error else ""),
        )
    return Invocation(tool=function_name(tool), result=result, duration_ms=duration_ms)


def _ms_since(began: float) -> int:
    return round((time.monotonic() - began) * 1000)
