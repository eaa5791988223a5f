"""The MCP server (the official SDK's low-level ``Server``) and its four handlers:
``tools/list``, ``tools/call``, ``resources/list`` and ``resources/read``.

One ``Server`` serves every workspace: the handlers read the caller from the HTTP request
(``transport`` authenticated it and put it in the ASGI scope as ``CALLER``), so each request
sees its own workspace's tools. The handlers are registered in ``request_handlers``
directly rather than with the SDK's decorators, whose tool cache is per ``Server`` and
would mix one workspace's tool schemas into another's calls; ``tools`` validates the
arguments against the caller's own schema instead.

Django work runs in worker threads (``in_thread``), each call between two
``close_old_connections`` as Django's request signals do, so a thread never keeps a
connection past its age or after an error.
"""

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections
from mcp import types
from mcp.server.lowlevel import Server
from mcp.server.lowlevel.server import request_ctx
from mcp.shared.exceptions import McpError

from apps.accounts.models import Workspace
from apps.mcp_serving import naming, selectors, tools
from kernel.errors import NotFound

logger = logging.getLogger(__name__)

#: The ASGI scope key under which ``transport`` leaves the authenticated ``tools.Caller``.
CALLER = "ministudio.mcp_caller"
#: Documents per ``resources/list`` page.
RESOURCE_PAGE = 100
RESOURCE_NOT_FOUND = -32002  # the MCP specification's code for an unknown resource

T = TypeVar("T")


def _with_connections(func: Callable[..., T]) -> Callable[..., T]:
    def run(*args: Any) -> T:
        close_old_connections()
        try:
            return func(*args)
        finally:
            close_old_connections()

    return run


async def in_thread(func: Callable[..., T], *args: Any) -> T:
    """``func(*args)`` in a worker thread of its own: an app's run may take minutes and
    must not hold up other requests' database work, as one shared thread would."""
    return await sync_to_async(_with_connections(func), thread_sensitive=False)(*args)


def _caller() -> tools.Caller:
    request = request_ctx.get().request
    caller = request.scope.get(CALLER) if request is not None else None
    if not isinstance(caller, tools.Caller):  # pragma: no cover - transport always sets it
        raise McpError(types.ErrorData(code=types.INVALID_REQUEST, message="Not authenticated."))
    return caller


async def list_tools(_: types.ListToolsRequest) -> types.ServerResult:
    caller = _caller()
    found = await in_thread(tools.workspace_tools, caller.workspace)
    listed = [
        types.Tool(name=tool.name, description=tool.description, inputSchema=tool.input_schema)
        for tool in found
    ]
    return types.ServerResult(types.ListToolsResult(tools=listed))


async def call_tool(request: types.CallToolRequest) -> types.ServerResult:
    caller = _caller()
    name, arguments = request.params.name, request.params.arguments or {}
    try:
        outcome = await in_thread(tools.call, caller, name, arguments)
    except Exception:
        # Not the caller's to act on: logged under the request id, which they are told.
        logger.exception("MCP tool %r failed (request %s)", name, caller.request_id)
        outcome = tools.Outcome(
            f"The tool failed on the server; request id {caller.request_id}.", None, True
        )
    return types.ServerResult(
        types.CallToolResult(
            content=[types.TextContent(type="text", text=outcome.text)],
            structuredContent=outcome.structured,
            isError=outcome.is_error,
        )
    )


def _resource_page(workspace: Workspace, offset: int) -> tuple[list[types.Resource], int | None]:
    documents = list(selectors.ready_documents(workspace)[offset : offset + RESOURCE_PAGE + 1])
    resources = [
        types.Resource(
            uri=naming.document_uri(document.knowledge_base_id, document.pk),
            name=document.name,
            title=document.name,
            description=f"A document of the knowledge base '{document.knowledge_base.name}'.",
            mimeType="text/plain",
        )
        for document in documents[:RESOURCE_PAGE]
    ]
    more = len(documents) > RESOURCE_PAGE
    return resources, offset + RESOURCE_PAGE if more else None


async def list_resources(request: types.ListResourcesRequest) -> types.ServerResult:
    caller = _caller()
    cursor = request.params.cursor if request.params else None
    offset = int(cursor) if cursor and cursor.isdigit() else 0
    resources, next_offset = await in_thread(_resource_page, caller.workspace, offset)
    return types.ServerResult(
        types.ListResourcesResult(
            resources=resources,
            nextCursor=str(next_offset) if next_offset is not None else None,
        )
    )


def _document_text(workspace: Workspace, uri: str) -> str:
    ids = naming.parse_document_uri(uri)
    if ids is None:
        raise NotFound(f"No resource '{uri}' on this server.")
    document = selectors.ready_document(workspace, *ids)
    text, cut = selectors.document_text(document)
    if cut:
        text += f"\n\n[cut at {selectors.DOCUMENT_TEXT_LIMIT} characters]"
    return text


async def read_resource(request: types.ReadResourceRequest) -> types.ServerResult:
    caller = _caller()
    uri = str(request.params.uri)
    try:
        text = await in_thread(_document_text, caller.workspace, uri)
    except NotFound:
        # Another workspace's document reads exactly like one that does not exist.
        raise McpError(
            types.ErrorData(code=RESOURCE_NOT_FOUND, message=f"Resource not found: {uri}")
        ) from None
    contents = types.TextResourceContents(uri=request.params.uri, text=text, mimeType="text/plain")
    return types.ServerResult(types.ReadResourceResult(contents=[contents]))


def build_server() -> Server:
    server: Server = Server(
        "ministudio",
        instructions=(
            "The published apps and knowledge bases of one ministudio workspace: each app is "
            "a tool that answers a prompt, each search_* tool searches a knowledge base, and "
            "the knowledge bases' documents are resources."
        ),
    )
    server.request_handlers[types.ListToolsRequest] = list_tools
    server.request_handlers[types.CallToolRequest] = call_tool
    server.request_handlers[types.ListResourcesRequest] = list_resources
    server.request_handlers[types.ReadResourceRequest] = read_resource
    return server
