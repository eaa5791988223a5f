"""Real MCP servers for the tests, built with the `mcp` SDK's server side and run on
loopback: a good one (streamable HTTP and SSE), one that lists 1,000 tools, and, for the
failures the SDK's server cannot produce, a bare HTTP server that speaks just enough
JSON-RPC to break in a chosen way. The stdio server is ``stdio_server.py``."""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio
import uvicorn
from mcp.server.fastmcp import Context, FastMCP

from tests.worker_process import free_port


def good_server() -> FastMCP:
    server = FastMCP("calc", instructions="Arithmetic for tests.")

    @server.tool(description="Add two integers.")
    def add(a: int, b: int) -> int:
        return a + b

    @server.tool(description="The request headers the server received.")
    def echo_headers(ctx: Context) -> dict:
        request = ctx.request_context.request
        return {"headers": dict(request.headers) if request else {}}

    @server.tool(description="Always fails.")
    def explode() -> str:
        raise ValueError("the flux capacitor is dry")

    @server.tool(description="Sleeps, then answers.")
    async def slow(seconds: float) -> str:
        await anyio.sleep(seconds)
        return "finally"

    return server


def many_tools_server(count: int = 1000) -> FastMCP:
    server = FastMCP("sprawl")
    for number in range(count):

        def tool(x: int = 0) -> int:
            return x

        server.add_tool(tool, name=f"tool_{number}", description=f"Tool number {number}.")
    return server


@dataclass
class Running:
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def serve(app, path: str) -> Running:
    """Run an ASGI app on 127.0.0.1 in a thread; the URL of ``path`` on it."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the MCP test server did not start"
        time.sleep(0.05)
    return Running(f"http://127.0.0.1:{port}{path}", server, thread)


# --- a server that breaks on purpose ------------------------------------------------------------

INITIALIZED = {
    "protocolVersion": "2025-06-18",
    "capabilities": {"tools": {}},
    "serverInfo": {"name": "broken", "version": "0.1"},
}
TOOLS = {"tools": [{"name": "add", "description": "Adds.", "inputSchema": {"type": "object"}}]}
#: Listings that break the rules on tool names, by mode.
LISTINGS = {
    "twins": {"tools": TOOLS["tools"] * 2},
    "long_name": {"tools": [{**TOOLS["tools"][0], "name": "a" * 200}]},
}


@dataclass
class BrokenServer:
    """``mode``: what ``tools/call`` gets — ``malformed`` (a result of the wrong shape),
    ``garbage`` (a body that is not JSON), ``vanish`` (the connection closed without an
    answer), ``hang`` (no answer, ever); or what ``tools/list`` gets — ``twins`` (one name
    twice), ``long_name`` (a name of 200 characters)."""

    mode: str
    url: str = ""
    calls: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


def broken_server(mode: str) -> tuple[BrokenServer, ThreadingHTTPServer]:
    state = BrokenServer(mode)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:  # no event stream offered
            self._send(405, b"", "text/plain")

        def do_DELETE(self) -> None:
            self._send(200, b"", "text/plain")

        def do_POST(self) -> None:
            message = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            method = message.get("method", "")
            state.calls.append(method)
            if "id" not in message:  # a notification
                self._send(202, b"", "text/plain")
            elif method == "initialize":
                self._reply(message["id"], INITIALIZED)
            elif method == "tools/list":
                self._reply(message["id"], LISTINGS.get(state.mode, TOOLS))
            elif state.mode == "malformed":
                self._reply(message["id"], {"content": "not a list of parts", "isError": 7})
            elif state.mode == "garbage":
                self._send(200, b"}{ this is not json", "application/json")
            elif state.mode == "vanish":
                self.close_connection = True
                self.connection.shutdown(2)
            else:  # hang
                state.release.wait(30)

        def _reply(self, request_id, result) -> None:
            body = json.dumps({"jsonrpc": "2.0", "id": request_id, "result": result}).encode()
            self._send(200, body, "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/mcp"
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return state, httpd
