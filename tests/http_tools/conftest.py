"""HTTP tool fixtures: a console as acme's admin, and a real HTTP server on 127.0.0.1 that
records what it receives (the tools reach it because the test allows 127.0.0.1/32)."""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.console import ConsoleClient


@pytest.fixture
def acme_console(alice) -> ConsoleClient:
    return ConsoleClient().as_user(alice, "acme")


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class UpstreamApi:
    base_url: str
    received: list[Received] = field(default_factory=list)

    @property
    def last(self) -> Received:
        assert self.received, "the server received nothing"
        return self.received[-1]


def _handler(api: UpstreamApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep the test output clean
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            parts = urlsplit(self.path)
            api.received.append(
                Received(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
            )
            if parts.path == "/fail":
                self._send(500, b"database exploded: trace 42", "text/plain")
            elif parts.path == "/big":
                self._send(200, b"x" * 20_000, "text/plain")
            elif parts.path == "/slow":
                time.sleep(2)
                self._send(200, b"{}", "application/json")
            elif parts.path == "/echo-headers":
                body = json.dumps({"headers": dict(self.headers.items()), "url": self.path})
                self._send(200, body.encode(), "application/json")
            else:
                body = {"ok": True, "city": "杭州", "method": self.command, "path": parts.path}
                self._send(200, json.dumps(body).encode(), "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (time-out)
                pass

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    return Handler


@pytest.fixture
def upstream_api(monkeypatch) -> UpstreamApi:
    """A live server on 127.0.0.1, allowed through the SSRF guard for this test only."""
    monkeypatch.setenv("MINISTUDIO_TOOLS_ALLOWED_NETWORKS", "127.0.0.1/32")
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    api = UpstreamApi(base_url=f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(api)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield api
    server.shutdown()
    server.server_close()


def create_tool(console: ConsoleClient, **fields) -> dict:
    body = {"name": "get_weather", "url": "https://api.example.com/weather", **fields}
    response = console.post("/http-tools", body)
    assert response.status_code == 201, response.content
    return response.json()
