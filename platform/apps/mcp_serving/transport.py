"""``/mcp``: the streamable HTTP transport of the official ``mcp`` SDK, in front of Django.

Each request is checked before the SDK sees it: an API key (``Authorization: Bearer
sk-...``, the console's and app API's ``ApiKeyBearer``: the same lookup, and the same
per-address lock-out after refused keys) and the key's workspace having its MCP server
switched on. Refusals are JSON, ``{"error": {"code", "message"}, "request_id"}``:

- 401 ``NotAuthenticated`` (no key) or ``InvalidApiKey`` (unknown, revoked, expired,
  malformed), with ``WWW-Authenticate: Bearer``;
- 429 ``Throttling.ApiKey`` with ``Retry-After`` while the address is locked out;
- 403 ``mcp_disabled`` while the workspace's switch is off;
- 405 ``MethodNotAllowed`` for ``GET`` (the stream a stateless server never writes to).

The official client raises ``httpx.HTTPStatusError`` for each, with the status; anything
past them is the SDK's (a bad JSON-RPC body is its 4xx, a tool's failure a tool error
result).

Stateless: each request gets a fresh ``StreamableHTTPSessionManager`` whose ``run()`` lasts
the request. Nothing depends on the ASGI lifespan protocol (the tests' and ``ministudio
web``'s uvicorn run with ``lifespan="off"``) or on which event loop served the last
request, and no session outlives its request, so replicas need no shared state.
"""

import io
import uuid
from typing import Any

from django.core.handlers.asgi import ASGIRequest
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from apps.accounts.auth import ApiKeyBearer
from apps.mcp_serving import selectors
from apps.mcp_serving.server import CALLER, build_server, in_thread
from apps.mcp_serving.tools import Caller
from kernel.errors import ApiError, NotAuthenticated

PATH = "/mcp"


class McpDisabled(ApiError):
    status = 403
    code = "mcp_disabled"


def _authenticate(scope: Scope, request_id: str) -> Caller:
    """The caller of this request, or the ``ApiError`` that refuses it."""
    request = ASGIRequest(scope, io.BytesIO())
    api_key = ApiKeyBearer()(request)
    if api_key is None:
        raise NotAuthenticated(
            "This MCP server needs a workspace API key: send 'Authorization: Bearer sk-...'."
        )
    if not selectors.is_enabled(api_key.workspace):
        raise McpDisabled(
            f"The MCP server of workspace '{api_key.workspace.slug}' is switched off; a "
            "workspace admin can switch it on (console: PATCH /console/api/mcp-serving)."
        )
    return Caller(api_key=api_key, request_id=request_id)


def _refusal(exc: ApiError, request_id: str) -> JSONResponse:
    headers = {"X-Request-Id": request_id}
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="ministudio"'
    if exc.retry_after:
        headers["Retry-After"] = str(exc.retry_after)
    body = {"error": {"code": exc.code, "message": exc.message}, "request_id": request_id}
    return JSONResponse(body, status_code=exc.status, headers=headers)


class McpApp:
    """The ASGI app ``studio.asgi`` sends ``/mcp`` (and ``/mcp/``) to."""

    def __init__(self) -> None:
        self.server = build_server()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = uuid.uuid4().hex
        try:
            caller = await in_thread(_authenticate, scope, request_id)
        except ApiError as exc:
            await _refusal(exc, request_id)(scope, receive, send)
            return
        if scope["method"] == "GET":
            # The spec's answer for a server that opens no stream of its own: stateless, it
            # would never send anything on it, and the connection would only be held open.
            refusal = ApiError(
                "This MCP server is stateless and opens no SSE stream; POST JSON-RPC requests.",
                code="MethodNotAllowed",
                status=405,
            )
            response = _refusal(refusal, request_id)
            response.headers["Allow"] = "POST"
            await response(scope, receive, send)
            return
        scope = {**scope, CALLER: caller}
        manager = StreamableHTTPSessionManager(self.server, stateless=True, json_response=True)
        async with manager.run():
            await manager.handle_request(scope, receive, _with_request_id(send, request_id))


def _with_request_id(send: Send, request_id: str) -> Send:
    async def sending(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            message = {**message, "headers": headers}
        await send(message)

    return sending
