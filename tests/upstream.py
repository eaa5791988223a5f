"""The one fake in the suite: a local model server speaking the OpenAI and DashScope wires.

Tests (and benchmarks) point real clients (the ``openai`` and ``dashscope`` SDKs, the
platform's providers and gateway) at it instead of at a real model server. It runs in a
background thread on 127.0.0.1, on a free port, and answers each route with the next
scripted reply, or a sensible default when nothing is scripted:

    def test_something(upstream):                # the fixture at the end of this module
        upstream.script("chat", text("hello"), error(429, "slow down", retry_after=2))
        client = openai.OpenAI(base_url=upstream.openai_base_url, api_key="k")
        ...
        assert upstream.requests[-1].body["model"] == "m"

Outside pytest it is a context manager: ``with UpstreamServer() as server: ...``.

Routes (keys for ``script``):

- ``models``               GET  /v1/models
- ``chat``                 POST /v1/chat/completions
- ``embeddings``           POST /v1/embeddings
- ``dashscope.generation`` POST /api/v1/services/aigc/text-generation/generation
- ``dashscope.embedding``  POST /api/v1/services/embeddings/text-embedding/text-embedding
- ``dashscope.rerank``     POST /api/v1/services/rerank/text-rerank/text-rerank
- ``rerank``               POST /v1/rerank and /rerank: Jina/Cohere style (``query``,
  ``documents``, ``top_n`` → ``results`` with ``relevance_score``, as vLLM, Xinference and
  Jina answer); a body with ``texts`` instead is Text Embeddings Inference's own API
  (→ a bare list of ``{index, score}``)
- ``score``                POST /score and /v1/score: vLLM's (``text_1``, ``text_2`` →
  ``data`` with ``score``, in request order)

The OpenAI routes are also served under ``/compatible-mode/v1`` (DashScope's
OpenAI-compatible mode). Defaults: chat answers ``"echo: <last user message>"``;
embeddings are deterministic feature-hashed vectors (equal texts, equal vectors; texts that
share words are closer); the rerank routes (``dashscope.rerank``, ``rerank``, ``score``)
score by word overlap with the query. Token counts are
rough word counts (CJK characters count one each) unless scripted.

Replies: ``text``, ``tool_call``/``tool_calls``, ``stream``, ``error``, ``slow``,
``hang_up``, ``raw``, ``vectors``, ``scores``, or any callable taking the
``RecordedRequest`` and returning one of those. Text, tool-call and stream replies are
streamed when the request asks for it (OpenAI ``"stream": true``; DashScope header
``X-DashScope-SSE: enable``) and sent whole otherwise.

When created with ``api_key=...``, every route requires ``Authorization: Bearer <key>``;
the 401 echoes the key it was given in full, as a careless upstream might, so tests can
prove that callers scrub keys from what they report.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import math
import re
import socket
import struct
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NoReturn
from urllib.parse import urlsplit

import pytest

__all__ = [
    "ROUTES",
    "Error",
    "HangUp",
    "Raw",
    "RecordedRequest",
    "Scores",
    "Slow",
    "Stream",
    "Text",
    "ToolCalls",
    "UpstreamServer",
    "Vectors",
    "count_tokens",
    "error",
    "hang_up",
    "raw",
    "scores",
    "slow",
    "stream",
    "text",
    "tool_call",
    "tool_calls",
    "upstream_fixture",
    "vector_for",
    "vectors",
]

_ROUTE_TABLE: dict[tuple[str, str], str] = {
    ("GET", "/v1/models"): "models",
    ("POST", "/v1/chat/completions"): "chat",
    ("POST", "/v1/embeddings"): "embeddings",
    ("POST", "/api/v1/services/aigc/text-generation/generation"): "dashscope.generation",
    (
        "POST",
        "/api/v1/services/embeddings/text-embedding/text-embedding",
    ): "dashscope.embedding",
    ("POST", "/api/v1/services/rerank/text-rerank/text-rerank"): "dashscope.rerank",
    ("POST", "/v1/rerank"): "rerank",
    ("POST", "/rerank"): "rerank",
    ("POST", "/score"): "score",
    ("POST", "/v1/score"): "score",
}
ROUTES: frozenset[str] = frozenset(_ROUTE_TABLE.values())
_COMPATIBLE_MODE_PREFIX = "/compatible-mode"

# --- replies -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """A whole answer (streamed word by word when the request streams)."""

    content: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str = "stop"


@dataclass(frozen=True)
class ScriptedCall:
    name: str
    arguments: str
    id: str


@dataclass(frozen=True)
class ToolCalls:
    """The model asks for one or more tool calls (finish_reason ``tool_calls``)."""

    calls: tuple[ScriptedCall, ...]
    content: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True)
class Stream:
    """An answer in the given pieces, ``delay`` seconds apart (and before the end).

    ``usage=False`` leaves usage out even when the client asks for it; ``hang_up=True``
    closes the connection after the last piece, without a finish frame or ``[DONE]``.
    A non-streaming request gets the pieces joined, at once.
    """

    chunks: tuple[str, ...]
    delay: float = 0.0
    usage: bool = True
    finish_reason: str = "stop"
    hang_up: bool = False
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True)
class Error:
    """An error status in the route's wire shape (OpenAI or DashScope)."""

    status: int
    message: str
    code: str | None = None
    retry_after: float | None = None
    type: str | None = None


@dataclass(frozen=True)
class Slow:
    """Wait ``seconds`` before answering with ``then`` (the default reply when None)."""

    seconds: float
    then: Any = None


@dataclass(frozen=True)
class HangUp:
    """Close the connection without answering."""


@dataclass(frozen=True)
class Raw:
    """Exactly this status, body and headers."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Vectors:
    """These embedding vectors, in order (embedding routes)."""

    vectors: tuple[tuple[float, ...], ...]
    prompt_tokens: int | None = None


@dataclass(frozen=True)
class Scores:
    """These relevance scores, one per document in request order (rerank routes)."""

    scores: tuple[float, ...]


Reply = Text | ToolCalls | Stream | Error | Slow | HangUp | Raw | Vectors | Scores


def text(
    content: str, *, prompt_tokens: int | None = None, completion_tokens: int | None = None
) -> Text:
    """Answer with ``content``."""
    return Text(content, prompt_tokens, completion_tokens)


def tool_call(
    name: str, arguments: str | dict[str, Any] = "{}", *, call_id: str | None = None
) -> ToolCalls:
    """Ask for one call of tool ``name`` with ``arguments`` (JSON text, or a dict)."""
    return tool_calls((name, arguments) if call_id is None else (name, arguments, call_id))


def tool_calls(*calls: tuple[Any, ...], content: str | None = None) -> ToolCalls:
    """Ask for several calls: each a ``(name, arguments)`` or ``(name, arguments, id)``."""
    made = []
    for position, call in enumerate(calls):
        name, arguments, *rest = call
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments)
        made.append(ScriptedCall(name, arguments, rest[0] if rest else f"call_stub_{position}"))
    return ToolCalls(tuple(made), content)


def stream(
    chunks: Sequence[str],
    *,
    delay: float = 0.0,
    usage: bool = True,
    hang_up: bool = False,
    finish_reason: str = "stop",
) -> Stream:
    """Answer in ``chunks``, ``delay`` seconds apart; see ``Stream``."""
    return Stream(tuple(chunks), delay, usage, finish_reason, hang_up)


def error(
    status: int,
    message: str,
    *,
    code: str | None = None,
    retry_after: float | None = None,
    type: str | None = None,
) -> Error:
    """Fail with ``status``; ``retry_after`` adds a Retry-After header (seconds)."""
    return Error(status, message, code, retry_after, type)


def slow(seconds: float, then: Reply | Callable[..., Any] | None = None) -> Slow:
    """Wait, then answer with ``then`` (or the default reply)."""
    return Slow(seconds, then)


def hang_up() -> HangUp:
    """Close the connection without a response."""
    return HangUp()


def raw(
    status: int,
    body: bytes | str | dict[str, Any] | list[Any],
    *,
    headers: dict[str, str] | None = None,
) -> Raw:
    """Answer exactly this; a dict or list body is sent as JSON."""
    all_headers = dict(headers or {})
    if isinstance(body, dict | list):
        body = json.dumps(body).encode()
        all_headers.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        body = body.encode()
    all_headers.setdefault("Content-Type", "text/plain; charset=utf-8")
    return Raw(status, body, tuple(all_headers.items()))


def vectors(items: Sequence[Sequence[float]], *, prompt_tokens: int | None = None) -> Vectors:
    """Answer an embedding request with these vectors."""
    return Vectors(tuple(tuple(float(x) for x in v) for v in items), prompt_tokens)


def scores(items: Sequence[float]) -> Scores:
    """Answer a rerank request with these scores (one per document, request order)."""
    return Scores(tuple(float(x) for x in items))


# --- deterministic content ----------------------------------------------------------------------

# CJK characters one by one, other letters and digits as runs.
_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN_RE = re.compile(rf"[{_CJK}]|[^\W_]+")


def _words(value: str) -> list[str]:
    return _TOKEN_RE.findall(value.lower())


def count_tokens(value: str) -> int:
    """The stub's token count: words, and CJK characters one each."""
    return len(_words(value))


def vector_for(value: str, dimensions: int) -> list[float]:
    """The stub's embedding of ``value``: the sum of a pseudo-random vector per word,
    scaled to unit length, so equal texts get equal vectors and texts sharing words are
    close."""
    vector = [0.0] * dimensions
    for word in _words(value) or [value]:
        digest = hashlib.shake_256(word.encode()).digest(2 * dimensions)
        for index in range(dimensions):
            vector[index] += int.from_bytes(digest[2 * index : 2 * index + 2], "little") - 32767.5
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector]


def _rerank_results(
    ranked: list[int], found: list[float], documents: list[str], with_documents: bool
) -> list[dict[str, Any]]:
    """Rerank results in ``ranked`` order, as DashScope and the Jina/Cohere API spell them."""
    results = []
    for index in ranked:
        result: dict[str, Any] = {"index": index, "relevance_score": found[index]}
        if with_documents:
            result["document"] = {"text": documents[index]}
        results.append(result)
    return results


def _overlap_score(query: str, document: str) -> float:
    wanted = set(_words(query))
    if not wanted:
        return 0.0
    found = set(_words(document))
    return round(len(wanted & found) / len(wanted | found), 6)


def _pieces(content: str) -> list[str]:
    return re.findall(r"\s*\S+|\s+$", content)


def _text_of(content: Any) -> str:
    """A message's text, whether a string or a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part.get("text", "") if isinstance(part, dict) else str(part) for part in content
        )
    return ""


# --- recorded requests ---------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    """One request as the stub saw it. ``headers`` has lower-case names."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    raw_body: bytes
    body: Any
    route: str | None
    received_at: float = field(default_factory=time.monotonic)
    #: When the response was fully written (``time.monotonic()``), or None if it was not.
    finished_at: float | None = None

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    @property
    def streaming(self) -> bool:
        """Whether the client asked for a stream (either wire)."""
        if self.route and self.route.startswith("dashscope."):
            return (self.header("x-dashscope-sse") or "").lower() == "enable"
        return isinstance(self.body, dict) and bool(self.body.get("stream"))


@dataclass
class _Plan:
    """What a chat-like answer consists of, whatever the wire."""

    pieces: list[str]
    calls: tuple[ScriptedCall, ...] = ()
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    delay: float = 0.0
    usage: bool = True
    hang_up: bool = False

    @property
    def content(self) -> str:
        return "".join(self.pieces)


class _Abort(Exception):
    """The server is stopping, or the reply hangs up: close the connection."""


class _Misfit(Exception):
    """A scripted reply of a kind the route cannot send (answered as a 500)."""


# --- the server ---------------------------------------------------------------------------------


class UpstreamServer:
    """A scripted OpenAI + DashScope model server on 127.0.0.1 (see the module docstring).

    ``api_key``: require this bearer key. ``embedding_dimensions``: the default vector size
    (requests may ask for another with ``dimensions`` / ``parameters.dimension``).
    ``models``: the ids ``GET /v1/models`` lists.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        embedding_dimensions: int = 64,
        models: Sequence[str] = ("stub-chat", "stub-embedding"),
    ) -> None:
        self.api_key = api_key
        self.embedding_dimensions = embedding_dimensions
        self.models = list(models)
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        #: Tracebacks of bugs in the stub itself (the connection was dropped each time).
        self.crashes: list[str] = []
        self._scripts: dict[str, deque[Any]] = {route: deque() for route in ROUTES}
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._ids = itertools.count(1)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> UpstreamServer:
        """Listen on a free port and serve in a background thread."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        httpd.upstream = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"upstream-stub-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; open connections are closed and sleeping replies abandoned."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> UpstreamServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # addresses

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the upstream stub is not running")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``; DashScope clients use ``base_url + "/api/v1"``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``, for ``openai.OpenAI(base_url=...)``."""
        return f"{self.base_url}/v1"

    @property
    def dashscope_base_url(self) -> str:
        """``http://127.0.0.1:PORT/api/v1``, for ``dashscope.base_http_api_url``."""
        return f"{self.base_url}/api/v1"

    # scripting and inspection

    def script(self, route: str, *replies: Reply | Callable[[RecordedRequest], Any]) -> None:
        """Queue replies for ``route``; each request takes the next, then defaults resume."""
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; routes are {sorted(ROUTES)}")
        with self._lock:
            self._scripts[route].extend(replies)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def requests_for(self, route: str) -> list[RecordedRequest]:
        """The requests received on ``route``, oldest first."""
        return [r for r in self.requests if r.route == route]

    def pending(self, route: str) -> int:
        """How many scripted replies ``route`` has not used yet."""
        with self._lock:
            return len(self._scripts[route])

    def reset(self) -> None:
        """Forget recorded requests and unused scripted replies."""
        with self._lock:
            self._requests.clear()
            for queue in self._scripts.values():
                queue.clear()

    # used by the handler

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_reply(self, route: str) -> Any:
        with self._lock:
            queue = self._scripts[route]
            return queue.popleft() if queue else None

    def _sleep(self, seconds: float) -> None:
        if seconds > 0 and self._stopping.wait(seconds):
            raise _Abort

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def _crashed(self, report: str) -> None:
        with self._lock:
            self.crashes.append(report)

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-stub-{next(self._ids)}"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # pooled keep-alive connections must not hold up stop()
    upstream: UpstreamServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that went away is normal here; the handler reports its own bugs


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer
    server_version = "upstream-stub/1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        # Without this, each request on a kept-alive connection waits ~40 ms on the
        # client's delayed ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.upstream._track(self.connection, add=True)

    def finish(self) -> None:
        self.server.upstream._track(self.connection, add=False)
        super().finish()

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    # request handling

    def _serve(self) -> None:
        upstream = self.server.upstream
        try:
            raw_body = self._read_body()
            parts = urlsplit(self.path)
            path = parts.path.rstrip("/") or "/"
            if path.startswith(_COMPATIBLE_MODE_PREFIX + "/v1/"):
                path = path[len(_COMPATIBLE_MODE_PREFIX) :]
            route = _ROUTE_TABLE.get((self.command, path))
            try:
                body = json.loads(raw_body) if raw_body else None
            except ValueError:
                body = None
            request = RecordedRequest(
                method=self.command,
                path=path,
                query=parts.query,
                headers={k.lower(): v for k, v in self.headers.items()},
                raw_body=raw_body,
                body=body,
                route=route,
            )
            upstream._record(request)
            self._dashscope = path.startswith("/api/")
            self._request = request
            if route is None:
                self._send_error(Error(404, f"no route for {self.command} {path}"))
            elif not self._authorized(request):
                presented = (request.header("authorization") or "").removeprefix("Bearer ")
                self._send_error(Error(401, f"Incorrect API key provided: {presented}."))
            else:
                try:
                    self._answer(route, upstream._next_reply(route))
                except _Misfit as exc:
                    self._send_error(Error(500, str(exc)))
            request.finished_at = time.monotonic()
        except (_Abort, OSError):
            self._drop()
        except Exception:  # a bug in the stub: say so loudly, then drop the connection
            report = traceback.format_exc()
            upstream._crashed(report)
            sys.stderr.write(f"upstream stub crashed:\n{report}")
            self._drop()

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _authorized(self, request: RecordedRequest) -> bool:
        key = self.server.upstream.api_key
        return key is None or request.header("authorization") == f"Bearer {key}"

    def _answer(self, route: str, reply: Any) -> None:
        upstream = self.server.upstream
        while True:
            if callable(reply):
                reply = reply(self._request)
            elif isinstance(reply, Slow):
                upstream._sleep(reply.seconds)
                reply = reply.then
            else:
                break
        if isinstance(reply, Error):
            self._send_error(reply)
        elif isinstance(reply, HangUp):
            raise _Abort
        elif isinstance(reply, Raw):
            self._send(reply.status, reply.body, dict(reply.headers))
        elif route == "models":
            self._models(reply)
        elif route == "chat":
            self._chat(self._plan(reply))
        elif route == "embeddings":
            self._openai_embeddings(reply)
        elif route == "dashscope.generation":
            self._generation(self._plan(reply))
        elif route == "dashscope.embedding":
            self._dashscope_embeddings(reply)
        elif route == "dashscope.rerank":
            self._rerank(reply)
        elif route == "rerank":
            self._openai_rerank(reply)
        elif route == "score":
            self._score(reply)

    def _misfit(self, reply: Any) -> NoReturn:
        route = self._request.route
        raise _Misfit(f"the upstream stub cannot answer {route} with {type(reply).__name__}")

    # plain responses

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        self._send(status, body, {"Content-Type": "application/json", **(headers or {})})

    def _send_error(self, reply: Error) -> None:
        headers = {}
        if reply.retry_after is not None:
            headers["Retry-After"] = f"{reply.retry_after:g}"
        if self._dashscope:
            payload: dict[str, Any] = {
                "code": reply.code or _DASHSCOPE_CODES.get(reply.status, "InternalError"),
                "message": reply.message,
                "request_id": str(uuid.uuid4()),
            }
        else:
            payload = {
                "error": {
                    "message": reply.message,
                    "type": reply.type or _openai_error_type(reply.status),
                    "param": None,
                    "code": reply.code or _OPENAI_CODES.get(reply.status),
                }
            }
        self._send_json(reply.status, payload, headers)

    # streaming

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _write_chunk(self, data: str) -> None:
        encoded = data.encode()
        self.wfile.write(f"{len(encoded):x}\r\n".encode() + encoded + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # chat-like answers

    def _plan(self, reply: Any) -> _Plan:
        body = self._request.body if isinstance(self._request.body, dict) else {}
        prompt = _prompt_text(body)
        if reply is None:
            reply = Text("echo: " + _last_user_text(body))
        if isinstance(reply, Text):
            plan = _Plan(_pieces(reply.content), finish_reason=reply.finish_reason)
        elif isinstance(reply, ToolCalls):
            pieces = [reply.content] if reply.content else []
            plan = _Plan(pieces, calls=reply.calls, finish_reason="tool_calls")
        elif isinstance(reply, Stream):
            plan = _Plan(
                list(reply.chunks),
                finish_reason=reply.finish_reason,
                delay=reply.delay,
                usage=reply.usage,
                hang_up=reply.hang_up,
            )
        else:
            self._misfit(reply)
        scripted_prompt = getattr(reply, "prompt_tokens", None)
        scripted_completion = getattr(reply, "completion_tokens", None)
        generated = plan.content + "".join(c.name + c.arguments for c in plan.calls)
        plan.prompt_tokens = count_tokens(prompt) if scripted_prompt is None else scripted_prompt
        plan.completion_tokens = (
            count_tokens(generated) if scripted_completion is None else scripted_completion
        )
        return plan

    def _chat(self, plan: _Plan) -> None:
        request = self._request
        body = request.body if isinstance(request.body, dict) else {}
        model = body.get("model", "stub-chat")
        completion_id = self.server.upstream._new_id("chatcmpl")
        created = int(time.time())
        usage = {
            "prompt_tokens": plan.prompt_tokens,
            "completion_tokens": plan.completion_tokens,
            "total_tokens": plan.prompt_tokens + plan.completion_tokens,
        }
        calls = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in plan.calls
        ]
        if not request.streaming:
            message: dict[str, Any] = {"role": "assistant", "content": plan.content or None}
            if calls:
                message["tool_calls"] = calls
            elif message["content"] is None:
                message["content"] = ""
            self._send_json(
                200,
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {"index": 0, "message": message, "finish_reason": plan.finish_reason}
                    ],
                    "usage": usage,
                },
            )
            return
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def frame(choices: list[dict[str, Any]], **extra: Any) -> None:
            chunk = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": choices,
            }
            if include_usage:
                chunk["usage"] = None
            chunk.update(extra)
            self._write_chunk(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n")

        def delta(content: dict[str, Any], finish_reason: str | None = None) -> None:
            frame([{"index": 0, "delta": content, "finish_reason": finish_reason}])

        sleep = self.server.upstream._sleep
        self._start_stream()
        delta({"role": "assistant", "content": ""})
        for position, piece in enumerate(plan.pieces):
            if position:
                sleep(plan.delay)
            delta({"content": piece})
        for index, call in enumerate(plan.calls):
            head = {"index": index, "id": call.id, "type": "function"}
            delta({"tool_calls": [{**head, "function": {"name": call.name, "arguments": ""}}]})
            half = len(call.arguments) // 2
            for part in (call.arguments[:half], call.arguments[half:]):
                if part:
                    delta({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
        if plan.hang_up:
            raise _Abort
        sleep(plan.delay)
        delta({}, plan.finish_reason)
        if include_usage and plan.usage:
            frame([], usage=usage)
        self._write_chunk("data: [DONE]\n\n")
        self._end_stream()

    def _generation(self, plan: _Plan) -> None:
        request = self._request
        body = request.body if isinstance(request.body, dict) else {}
        parameters = body.get("parameters") or {}
        as_message = parameters.get("result_format") == "message" or bool(plan.calls)
        incremental = parameters.get("incremental_output") is True
        request_id = str(uuid.uuid4())

        def usage(output_tokens: int) -> dict[str, int]:
            return {
                "input_tokens": plan.prompt_tokens,
                "output_tokens": output_tokens,
                "total_tokens": plan.prompt_tokens + output_tokens,
            }

        def payload(content: str, finish_reason: str, *, with_calls: bool, tokens: int) -> dict:
            if as_message:
                message: dict[str, Any] = {"role": "assistant", "content": content}
                if with_calls:
                    message["tool_calls"] = [
                        {
                            "index": index,
                            "id": c.id,
                            "type": "function",
                            "function": {"name": c.name, "arguments": c.arguments},
                        }
                        for index, c in enumerate(plan.calls)
                    ]
                output: dict[str, Any] = {
                    "choices": [{"finish_reason": finish_reason, "message": message}]
                }
            else:
                output = {"text": content, "finish_reason": finish_reason}
            result: dict[str, Any] = {"output": output, "request_id": request_id}
            if plan.usage:
                result["usage"] = usage(tokens)
            return result

        if not request.streaming:
            self._send_json(
                200,
                payload(
                    plan.content,
                    plan.finish_reason,
                    with_calls=bool(plan.calls),
                    tokens=plan.completion_tokens,
                ),
            )
            return
        sleep = self.server.upstream._sleep
        counter = itertools.count(1)

        def event(data: dict[str, Any]) -> None:
            self._write_chunk(
                f"id:{next(counter)}\nevent:result\n:HTTP_STATUS/200\n"
                f"data:{json.dumps(data, ensure_ascii=False)}\n\n"
            )

        self._start_stream()
        so_far = ""
        for position, piece in enumerate(plan.pieces):
            if position:
                sleep(plan.delay)
            so_far += piece
            tokens = count_tokens(so_far)
            event(
                payload(piece if incremental else so_far, "null", with_calls=False, tokens=tokens)
            )
        if plan.hang_up:
            raise _Abort
        sleep(plan.delay)
        event(
            payload(
                "" if incremental else so_far,
                plan.finish_reason,
                with_calls=bool(plan.calls),
                tokens=plan.completion_tokens,
            )
        )
        self._end_stream()

    # models, embeddings, rerank

    def _models(self, reply: Any) -> None:
        if reply is not None:
            self._misfit(reply)
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "upstream-stub"}
            for name in self.server.upstream.models
        ]
        self._send_json(200, {"object": "list", "data": data})

    def _vectors(self, reply: Any, texts: list[str], dimensions: int) -> tuple[list, int]:
        if reply is None:
            found = [vector_for(t, dimensions) for t in texts]
            return found, sum(count_tokens(t) for t in texts)
        if isinstance(reply, Vectors):
            tokens = reply.prompt_tokens
            if tokens is None:
                tokens = sum(count_tokens(t) for t in texts)
            return [list(v) for v in reply.vectors], tokens
        self._misfit(reply)

    def _openai_embeddings(self, reply: Any) -> None:
        body = self._request.body if isinstance(self._request.body, dict) else {}
        given = body.get("input", [])
        items = [given] if isinstance(given, str) else list(given)
        if items and all(isinstance(i, int) for i in items):  # one tokenised input
            items = [items]
        texts = [i if isinstance(i, str) else " ".join(map(str, i)) for i in items]
        dimensions = int(body.get("dimensions") or self.server.upstream.embedding_dimensions)
        found, tokens = self._vectors(reply, texts, dimensions)
        as_base64 = body.get("encoding_format") == "base64"
        data = [
            {
                "object": "embedding",
                "index": index,
                "embedding": (
                    base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode() if as_base64 else v
                ),
            }
            for index, v in enumerate(found)
        ]
        self._send_json(
            200,
            {
                "object": "list",
                "data": data,
                "model": body.get("model", "stub-embedding"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    def _dashscope_embeddings(self, reply: Any) -> None:
        body = self._request.body if isinstance(self._request.body, dict) else {}
        texts = [str(t) for t in (body.get("input") or {}).get("texts", [])]
        parameters = body.get("parameters") or {}
        dimensions = int(parameters.get("dimension") or self.server.upstream.embedding_dimensions)
        found, tokens = self._vectors(reply, texts, dimensions)
        self._send_json(
            200,
            {
                "output": {
                    "embeddings": [
                        {"text_index": index, "embedding": v} for index, v in enumerate(found)
                    ]
                },
                "usage": {"total_tokens": tokens},
                "request_id": str(uuid.uuid4()),
            },
        )

    def _rerank(self, reply: Any) -> None:
        body = self._request.body if isinstance(self._request.body, dict) else {}
        given = body.get("input") or {}
        query = str(given.get("query", ""))
        documents = [
            d.get("text", "") if isinstance(d, dict) else str(d) for d in given.get("documents", [])
        ]
        parameters = body.get("parameters") or {}
        found = self._relevance(reply, query, documents)
        ranked = sorted(range(len(found)), key=lambda i: (-found[i], i))
        top_n = parameters.get("top_n")
        if top_n is not None:
            ranked = ranked[: int(top_n)]
        results = _rerank_results(
            ranked, found, documents, bool(parameters.get("return_documents"))
        )
        tokens = count_tokens(query) * len(documents) + sum(count_tokens(d) for d in documents)
        self._send_json(
            200,
            {
                "output": {"results": results},
                "usage": {"total_tokens": tokens},
                "request_id": str(uuid.uuid4()),
            },
        )

    def _relevance(self, reply: Any, query: str, documents: list[str]) -> list[float]:
        """One score per document, in request order: scripted, or by word overlap."""
        if reply is None:
            return [_overlap_score(query, d) for d in documents]
        if isinstance(reply, Scores):
            return list(reply.scores)
        self._misfit(reply)

    def _openai_rerank(self, reply: Any) -> None:
        body = self._request.body if isinstance(self._request.body, dict) else {}
        query = str(body.get("query", ""))
        tei = "texts" in body  # Text Embeddings Inference's own API
        given = body.get("texts" if tei else "documents") or []
        documents = [d.get("text", "") if isinstance(d, dict) else str(d) for d in given]
        found = self._relevance(reply, query, documents)
        ranked = sorted(range(len(found)), key=lambda i: (-found[i], i))
        if tei:
            self._send_json(200, [{"index": i, "score": found[i]} for i in ranked])
            return
        top_n = body.get("top_n")
        if top_n:  # vLLM: 0 or absent is every document
            ranked = ranked[: int(top_n)]
        results = _rerank_results(ranked, found, documents, bool(body.get("return_documents")))
        tokens = count_tokens(query) * len(documents) + sum(count_tokens(d) for d in documents)
        self._send_json(
            200,
            {
                "id": self.server.upstream._new_id("rerank"),
                "model": body.get("model", "stub-rerank"),
                "results": results,
                "usage": {"total_tokens": tokens},
            },
        )

    def _score(self, reply: Any) -> None:
        body = self._request.body if isinstance(self._request.body, dict) else {}
        first, second = body.get("text_1", ""), body.get("text_2", [])
        texts = [str(t) for t in (second if isinstance(second, list) else [second])]
        query = str(first[0] if isinstance(first, list) and first else first)
        found = self._relevance(reply, query, texts)
        tokens = count_tokens(query) * len(texts) + sum(count_tokens(t) for t in texts)
        self._send_json(
            200,
            {
                "id": self.server.upstream._new_id("score"),
                "object": "list",
                "created": int(time.time()),
                "model": body.get("model", "stub-rerank"),
                "data": [
                    {"index": index, "object": "score", "score": score}
                    for index, score in enumerate(found)
                ],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens, "completion_tokens": 0},
            },
        )


_OPENAI_CODES = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}
_DASHSCOPE_CODES = {
    400: "InvalidParameter",
    401: "InvalidApiKey",
    403: "AccessDenied",
    404: "ModelNotFound",
    429: "Throttling.RateQuota",
    500: "InternalError",
}


def _openai_error_type(status: int) -> str:
    if status == 401:
        return "authentication_error"
    if status == 403:
        return "permission_error"
    if status == 429:
        return "rate_limit_error"
    return "server_error" if status >= 500 else "invalid_request_error"


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Chat messages from an OpenAI body or a DashScope ``input``."""
    if "messages" in body:
        return [m for m in body["messages"] if isinstance(m, dict)]
    given = body.get("input") or {}
    messages = [m for m in given.get("messages", []) if isinstance(m, dict)]
    if given.get("prompt"):
        messages.append({"role": "user", "content": given["prompt"]})
    return messages


def _last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(_messages(body)):
        if message.get("role") == "user":
            return _text_of(message.get("content"))
    return ""


def _prompt_text(body: dict[str, Any]) -> str:
    return " ".join(_text_of(m.get("content")) for m in _messages(body))


@pytest.fixture(name="upstream")
def upstream_fixture(request: pytest.FixtureRequest) -> Iterator[UpstreamServer]:
    """The ``upstream`` fixture: a running ``UpstreamServer`` for one test.

    ``tests/conftest.py`` registers it for the suite (``pytest_plugins =
    ["tests.upstream"]``); elsewhere, ``from tests.upstream import upstream_fixture  #
    noqa: F401`` (the function has its own name so that test parameters called
    ``upstream`` do not shadow an import).
    A bug in the stub (or in a callable reply) fails the test at teardown.
    Constructor arguments can come from indirect parametrisation:
    ``@pytest.mark.parametrize("upstream", [{"api_key": "sk-x"}], indirect=True)``.
    """
    with UpstreamServer(**getattr(request, "param", {})) as server:
        yield server
    if server.crashes:
        pytest.fail("the upstream stub crashed:\n" + "\n".join(server.crashes), pytrace=False)
