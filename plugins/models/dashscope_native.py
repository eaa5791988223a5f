"""A model provider for Alibaba Cloud DashScope (百炼) through its native API and the
official ``dashscope`` SDK: chat (``Generation``, streaming and tool calls), embeddings
(``TextEmbedding``) and rerank (``TextReRank``).

The SDK keeps the API key and the base URL as module globals (``dashscope.api_key``,
``dashscope.base_http_api_url``); one process serves many workspaces with different keys
and endpoints, so this module never reads or sets them. Every call passes its own
``api_key=``, ``base_address=`` (the SDK's per-call base URL), ``request_timeout=`` and
``workspace=``, and its own ``requests.Session``: a fresh one per call (no cookie jar shared
between workspaces) mounted on one shared connection pool, with a response hook so that a
stream closed early closes its connection.

Transient failures are tried again by the plugin kit's one retry policy
(``plugins.retrying``), the one the OpenAI-compatible provider's SDK follows: at most
``max_retries`` times (default 2) a request, after no answer (connection failed or dropped,
timeout) or an answer with status 408, 409, 429 or 5xx, waiting what the server's
``Retry-After`` says (up to 120 s; longer is not retried) or else 0.5 s, 1 s, 2 s... (at
most 8 s, less a random 0-25 %); a server's ``x-should-retry`` header overrules the status.
Any other answer (400, 401, 403, 404...) is not retried. Chat, each embedding batch and
rerank are retried whole; a stream only until its first event arrives, so nothing is sent
twice once an answer began. (The SDK itself only re-sends once over a pooled connection
that turns out dropped.)

Upstream failures are raised as ``UpstreamError`` subclasses (authentication, rate limit
with ``retry_after``, timeout, connection, bad request, server error) that name the host
that failed, keep DashScope's error ``code``, and never carry the API key. The last try's
failure is the one raised.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterator
from typing import Any
from urllib.parse import urlsplit

import dashscope
import requests
import urllib3.exceptions
from dashscope.common.error import DashScopeException
from pydantic import Field, field_validator, model_validator
from requests.adapters import HTTPAdapter

from plugins import retrying
from plugins.base import (
    Capability,
    ChatChunk,
    ChatMessage,
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    ModelProvider,
    PluginSettings,
    RerankRequest,
    RerankResponse,
    RerankResult,
    SecretStr,
    UpstreamAuthenticationError,
    UpstreamBadRequestError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamServerError,
    UpstreamTimeoutError,
    Usage,
)
from plugins.chat_wire import chat_options, refuse_reserved, tool_calls_param
from plugins.scrubbing import scrub
from plugins.tool_calls import ToolCallAssembler, finish_reason_for
from plugins.upstream_errors import host_label, retry_after_from_headers

DEFAULT_BASE_URL = "https://dashscope.aliyuncs.com/api/v1"
INTERNATIONAL_BASE_URL = "https://dashscope-intl.aliyuncs.com/api/v1"
#: The most texts one embedding request may carry, for models stricter than the settings'
#: ``embedding_batch_size`` allows (the v1/v2 models take 25, the settings' maximum).
EMBEDDING_BATCH_LIMITS = {"text-embedding-v3": 10, "text-embedding-v4": 10}
#: Keys in ``ChatRequest.extra`` that would override what the provider sends, or steer the
#: SDK's transport (where the request goes, with which key and headers) instead of the model.
RESERVED_EXTRA_KEYS = frozenset(
    {
        # the request itself
        "model",
        "messages",
        "prompt",
        "history",
        "input",
        "tools",
        "stream",
        "incremental_output",
        "result_format",
        "plugins",
        # the SDK's transport (BaseApi.call and _build_api_request)
        "api_key",
        "workspace",
        "base_address",
        "request_timeout",
        "session",
        "headers",
        "user_agent",
        "api_protocol",
        "http_method",
        "is_service",
        "async_request",
        "query",
        "form",
        "resources",
        "flattened_output",
        "extra_url_parameters",
        "task_group",
        "task",
        "function",
        "task_id",
        "pre_task_id",
        "enable_encryption",
        "sdk_module",
        "ws_stream_mode",
        "is_binary_input",
    }
)
_WORKSPACE_PLACEHOLDER = "{workspace_id}"
_WORKSPACE_RE = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")

# --- settings ----------------------------------------------------------------------------------


class DashScopeSettings(PluginSettings):
    api_key: SecretStr = Field(description="A DashScope API key (sk-...).")
    base_url: str = Field(
        default=DEFAULT_BASE_URL,
        description=(
            "The native API root, ending in /api/v1: https://dashscope.aliyuncs.com/api/v1 "
            "(Beijing) or https://dashscope-intl.aliyuncs.com/api/v1 (Singapore)."
        ),
    )
    timeout_seconds: float = Field(
        default=60, ge=1, le=600, description="Per connect/read; for streams, between pieces."
    )
    embedding_batch_size: int = Field(
        default=10,
        ge=1,
        le=25,
        description="Texts per embedding request (10 for text-embedding-v3/v4, 25 for v1/v2).",
    )
    workspace: str | None = Field(
        default=None,
        description="A DashScope sub-workspace id, sent as X-DashScope-WorkSpace.",
    )
    max_retries: int = Field(
        default=2, ge=0, le=10, description="Retries on connection errors, 408, 409, 429, 5xx."
    )

    @field_validator("api_key")
    @classmethod
    def _non_empty_key(cls, value: SecretStr) -> SecretStr:
        # An empty key must not reach the SDK, which would fall back to the process's own.
        stripped = value.get_secret_value().strip()
        if not stripped:
            raise ValueError("api_key is required")
        return SecretStr(stripped)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url is an http:// or https:// URL, e.g. {DEFAULT_BASE_URL}")
        if parts.username is not None or parts.password is not None:
            raise ValueError("base_url must not contain credentials; the key goes in api_key")
        if parts.path.rstrip("/").endswith("/compatible-mode/v1"):
            raise ValueError(
                "that is DashScope's OpenAI-compatible endpoint; use the OpenAI-compatible "
                f"provider for it, or the native API root here, e.g. {DEFAULT_BASE_URL}"
            )
        if not parts.path:
            value += "/api/v1"
        return value

    @field_validator("workspace")
    @classmethod
    def _workspace_id(cls, value: str | None) -> str | None:
        value = value.strip() if value is not None else None
        if not value:
            return None
        if not _WORKSPACE_RE.match(value):
            raise ValueError("workspace is a DashScope workspace id: letters, digits, - and _")
        return value

    @model_validator(mode="after")
    def _placeholder_needs_workspace(self) -> DashScopeSettings:
        # Without one the SDK would substitute the process's DASHSCOPE_WORKSPACE_ID.
        if _WORKSPACE_PLACEHOLDER in self.base_url and self.workspace is None:
            raise ValueError("base_url contains {workspace_id}: set workspace as well")
        return self


# --- transport: everything per call, nothing in the SDK's globals -------------------------------

#: One connection pool for all calls; it holds sockets, never credentials or cookies.
_adapter = HTTPAdapter(pool_connections=32, pool_maxsize=64)


def _secret(settings: DashScopeSettings) -> str:
    return settings.api_key.get_secret_value()


def _base_address(settings: DashScopeSettings) -> str:
    if settings.workspace is not None:
        return settings.base_url.replace(_WORKSPACE_PLACEHOLDER, settings.workspace)
    return settings.base_url


def _host(settings: DashScopeSettings) -> str:
    """``host[:port]`` of the base URL, for messages."""
    return host_label(_base_address(settings))


class _Call:
    """The keyword arguments that route one SDK call to this endpoint, with this key, and
    the HTTP responses it received, so they can be closed when the caller is done."""

    def __init__(self, settings: DashScopeSettings) -> None:
        self.responses: list[requests.Response] = []
        session = requests.Session()
        session.mount("https://", _adapter)
        session.mount("http://", _adapter)
        session.hooks["response"].append(self._keep)
        self.kwargs: dict[str, Any] = {
            "api_key": _secret(settings),
            "base_address": _base_address(settings),
            "request_timeout": settings.timeout_seconds,
            "session": session,
        }
        if settings.workspace is not None:
            self.kwargs["workspace"] = settings.workspace

    def _keep(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.responses.append(response)

    def close(self) -> None:
        """Close what was received: an unfinished stream's connection is dropped, a finished
        one goes back to the pool. (The session is not closed: it shares the adapter.)"""
        for response in self.responses:
            response.close()


# --- error mapping ------------------------------------------------------------------------------

_AUTH_CODES = ("InvalidApiKey", "AccessDenied", "Workspace.AccessDenied", "Model.AccessDenied")
_TIMEOUT_CODES = ("RequestTimeOut", "InternalError.Timeout")
_SERVER_CODES = ("InternalError", "SystemError", "ServiceUnavailable", "ModelServiceFailed")


def _scrub(text: str, secret: str | None) -> str:
    return scrub(text, [secret], min_length=4)


def _said(message: Any, secret: str) -> str:
    """What the server said, on one line, short, without the key."""
    if message is None:
        return ""
    if not isinstance(message, str):
        message = " ".join(str(part) for part in message) if isinstance(message, list) else ""
    return _scrub(" ".join(message.split())[:300], secret)


def _code_is(code: str | None, families: tuple[str, ...]) -> bool:
    return bool(code) and any(code == f or code.startswith(f + ".") for f in families)


def map_response_error(response: Any, settings: DashScopeSettings) -> UpstreamError:
    """The ``UpstreamError`` for a DashScope response whose ``status_code`` is not 200.

    DashScope's ``code`` decides where it is specific (an error event inside a stream
    arrives with the SDK's default status 400, whatever happened), the HTTP status
    otherwise. The message names the host and has the configured key removed from
    anything the server echoed.
    """
    host = _host(settings)
    status = int(getattr(response, "status_code", 0) or 0) or None
    code = getattr(response, "code", None) or None
    if code == "Unknown":  # the SDK's stand-in when the body had no code (an HTML page)
        code = None
    said = _said(getattr(response, "message", None), _secret(settings))
    fields: dict[str, Any] = {"status": status, "code": code, "upstream": host}
    what = f"HTTP {status}, {code}" if code else f"HTTP {status}"
    suffix = f": {said}" if said else "."
    if _code_is(code, _AUTH_CODES) or status in (401, 403):
        verb = "denied access" if status == 403 or "AccessDenied" in (code or "") else None
        verb = verb or "refused the credentials"
        return UpstreamAuthenticationError(f"Model server {host} {verb} ({what}){suffix}", **fields)
    if _code_is(code, ("Throttling",)) or status == 429:
        return UpstreamRateLimitError(
            f"Model server {host} is rate limiting requests ({what}){suffix}",
            retry_after=retry_after_from_headers(getattr(response, "headers", None)),
            **fields,
        )
    if _code_is(code, _TIMEOUT_CODES) or status in (408, 504):
        return UpstreamTimeoutError(f"Model server {host} timed out ({what}){suffix}", **fields)
    if _code_is(code, _SERVER_CODES) or status is None or status >= 500:
        return UpstreamServerError(f"Model server {host} failed ({what}){suffix}", **fields)
    # DashScope's message says what was wrong with the request: the caller's to read.
    return UpstreamBadRequestError(
        f"Model server {host} rejected the request ({what}){suffix}",
        caller_detail=said or None,
        **fields,
    )


def _is_timeout(exc: BaseException) -> bool:
    """Whether a ``requests`` exception is a timeout. Timeouts while reading a body (a stream
    between pieces) arrive as a ``ConnectionError`` around urllib3's ``ReadTimeoutError``;
    a refused connection's ``NewConnectionError`` is a ``ConnectTimeoutError`` subclass in
    urllib3, so the chain is not searched for timeouts in general."""
    if isinstance(exc, requests.Timeout):
        return True
    reason = exc.args[0] if exc.args else None
    return isinstance(reason, urllib3.exceptions.ReadTimeoutError)


def _reason(exc: BaseException) -> str:
    """A short why for a connection failure (``Connection refused``), never the URL."""
    text = str(exc)
    found = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if found:
        return found.group(1).strip().rstrip(".")
    if "RemoteDisconnected" in text or "closed connection without response" in text:
        return "the connection was closed without an answer"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the connection broke off mid-answer"
    return type(exc).__name__


def map_error(exc: Exception, settings: DashScopeSettings) -> UpstreamError:
    """The ``UpstreamError`` for an exception from the SDK or from ``requests`` under it."""
    host = _host(settings)
    secret = _secret(settings)
    if isinstance(exc, requests.RequestException | urllib3.exceptions.HTTPError):
        if _is_timeout(exc):
            return UpstreamTimeoutError(
                f"Model server {host} did not answer within {settings.timeout_seconds:g} s.",
                upstream=host,
            )
        if isinstance(exc, requests.exceptions.InvalidJSONError):
            return UpstreamServerError(
                f"Model server {host} answered with something that is not JSON.", upstream=host
            )
        return UpstreamConnectionError(
            f"Cannot reach model server {host} ({_scrub(_reason(exc), secret)}).",
            upstream=host,
        )
    return UpstreamError(
        f"Calling model server {host} failed: {_scrub(str(exc), secret)}", upstream=host
    )


def _status(response: Any) -> int:
    return int(getattr(response, "status_code", 0) or 0)


def _no_answer_delay(error: UpstreamError, retries: retrying.Retries) -> float | None:
    """The wait before another try after an exception, or None to raise it: only a try
    that got no answer (connection, timeout) is retried, not one whose answer was unusable
    (not JSON) or that the SDK refused before sending."""
    if isinstance(error, UpstreamConnectionError):
        return retries.delay_after(None)
    return None


def _send(settings: DashScopeSettings, send: Callable[[dict[str, Any]], Any]) -> Any:
    """The answer of ``send(transport kwargs)``, one SDK call answered whole, tried again
    as ``plugins.retrying`` says; the ``UpstreamError`` of the last try when none succeeds.
    Each try has its own ``_Call``, closed before waiting for the next."""
    retries = retrying.Retries(settings.max_retries, upstream=_host(settings))
    while True:
        call = _Call(settings)
        try:
            response = send(call.kwargs)
        except (requests.RequestException, DashScopeException) as exc:
            error = map_error(exc, settings)
            delay = _no_answer_delay(error, retries)
            if delay is None:
                raise error from None
        else:
            status = _status(response)
            if status == 200:
                return response
            error = map_response_error(response, settings)
            delay = retries.delay_after(status, getattr(response, "headers", None))
            if delay is None:
                raise error
        finally:
            call.close()
        retrying.wait(delay)


# --- request and response mapping -------------------------------------------------------------


def _text(content: Any) -> str:
    """A message's text, whether a string or a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "") if isinstance(part, dict) else str(part) for part in content
        )
    return ""


def _messages(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    names: dict[str, str] = {}  # tool call id → tool name, for the tool results
    result: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "tool":
            param: dict[str, Any] = {
                "role": "tool",
                "content": message.content or "",
                "tool_call_id": message.tool_call_id or "",
            }
            name = names.get(message.tool_call_id or "")
            if name:
                param["name"] = name
        else:
            param = {"role": message.role, "content": message.content or ""}
            if message.role == "assistant" and message.tool_calls:
                param["tool_calls"] = tool_calls_param(message.tool_calls)
                names.update({call.id: call.name for call in message.tool_calls})
        result.append(param)
    return result


def _chat_arguments(request: ChatRequest) -> dict[str, Any]:
    refuse_reserved(request.extra, RESERVED_EXTRA_KEYS)
    if not request.messages:
        raise ValueError("a chat request needs at least one message")
    arguments: dict[str, Any] = {
        **request.extra,
        "model": request.model,
        "messages": _messages(request.messages),
        "result_format": "message",
        **chat_options(request),
    }
    return arguments


def _generation_usage(usage: Any) -> Usage | None:
    # The SDK fills a missing usage with zeros, so all zeros means "not reported".
    found = Usage(
        input_tokens=(usage or {}).get("input_tokens") or 0,
        output_tokens=(usage or {}).get("output_tokens") or 0,
    )
    return found if found.input_tokens or found.output_tokens else None


def _total_tokens(usage: Any) -> int | None:
    return usage.get("total_tokens") if usage else None


def _finish_reason(value: Any) -> str | None:
    # DashScope streams say "null" (a string) until the last event.
    return value if isinstance(value, str) and value and value != "null" else None


def _choice(response: Any) -> tuple[str, list[Any], str | None] | None:
    """``(text, tool-call dicts, finish_reason)`` of the first choice, or None if none."""
    output = getattr(response, "output", None)
    if not output:
        return None
    choices = output.get("choices") or []
    if not choices:
        if output.get("text") is None:
            return None
        return output["text"], [], _finish_reason(output.get("finish_reason"))
    choice = choices[0]
    message = choice.get("message") or {}
    calls = [c for c in message.get("tool_calls") or [] if isinstance(c, dict)]
    return _text(message.get("content")), calls, _finish_reason(choice.get("finish_reason"))


def _stream_try(
    arguments: dict[str, Any], settings: DashScopeSettings, retries: retrying.Retries
) -> Generator[ChatChunk, None, float | None]:
    """One try of ``chat_stream``: yields its chunks and returns None when it answered,
    or the seconds to wait before the next try when it failed before its first event
    and may be tried again; raises the failure otherwise."""
    call = _Call(settings)
    assembler = ToolCallAssembler()
    finish_reason: str | None = None
    usage: Usage | None = None
    events: Any = None
    answered = False  # an event arrived: from here on, never sent again
    try:
        try:
            events = dashscope.Generation.call(
                **arguments, **call.kwargs, stream=True, incremental_output=True
            )
            for event in events:
                status = _status(event)
                if status != 200:
                    error = map_response_error(event, settings)
                    headers = getattr(event, "headers", None)
                    delay = None if answered else retries.delay_after(status, headers)
                    if delay is None:
                        raise error
                    return delay
                answered = True
                usage = _generation_usage(getattr(event, "usage", None)) or usage
                found = _choice(event)
                if found is None:
                    continue
                content, fragments, reason = found
                assembler.add(fragments)
                finish_reason = reason or finish_reason
                if content:
                    yield ChatChunk(content=content)
        except (requests.RequestException, DashScopeException) as exc:
            error = map_error(exc, settings)
            delay = None if answered else _no_answer_delay(error, retries)
            if delay is None:
                raise error from None
            return delay
    finally:
        if events is not None:
            events.close()
        call.close()
    yield assembler.last_chunk(finish_reason, usage)
    return None


# --- the provider ------------------------------------------------------------------------------


class DashScopeProvider(ModelProvider):
    display_name = "Alibaba Cloud DashScope (百炼)"
    description = (
        "Qwen chat (streaming, tool calls), text embeddings and rerank models from Alibaba "
        "Cloud Model Studio through DashScope's native API. Needs a DashScope API key; set "
        "the base URL to https://dashscope-intl.aliyuncs.com/api/v1 for the international "
        "(Singapore) region."
    )
    Settings = DashScopeSettings
    capabilities = frozenset(
        {
            Capability.CHAT,
            Capability.CHAT_STREAM,
            Capability.TOOL_CALLS,
            Capability.EMBEDDINGS,
            Capability.RERANK,
        }
    )

    def chat(self, request: ChatRequest, settings: DashScopeSettings) -> ChatResponse:
        """One chat completion; tool calls the model asks for are in ``message.tool_calls``.

        Raises ``ValueError`` for a request this provider cannot send (no messages, a
        reserved key in ``extra``) and an ``UpstreamError`` subclass when the server fails
        or refuses.
        """
        arguments = _chat_arguments(request)
        response = _send(
            settings, lambda transport: dashscope.Generation.call(**arguments, **transport)
        )
        found = _choice(response)
        if found is None:
            host = _host(settings)
            raise UpstreamServerError(f"Model server {host} returned no choices.", upstream=host)
        content, fragments, finish_reason = found
        assembler = ToolCallAssembler()
        assembler.add(fragments)
        calls = assembler.calls()
        return ChatResponse(
            # with tool calls and no text, content is None (as in the OpenAI provider)
            message=ChatMessage(
                role="assistant", content=(content or None) if calls else content, tool_calls=calls
            ),
            finish_reason=finish_reason_for(finish_reason, calls),
            usage=_generation_usage(getattr(response, "usage", None)),
        )

    def chat_stream(self, request: ChatRequest, settings: DashScopeSettings) -> Iterator[ChatChunk]:
        """The completion as it is generated: a chunk per text piece as it arrives
        (``incremental_output``), then one last chunk with ``finish_reason``, the usage, and
        the tool calls, each whole.

        Nothing is sent before the first ``next()``. A failure before the stream's first
        event is tried again as ``plugins.retrying`` says; once an event arrived, never.
        Closing the generator early stops reading and closes the connection. Raises an
        ``UpstreamError`` subclass, possibly after some chunks, when the server fails.
        """
        arguments = _chat_arguments(request)
        retries = retrying.Retries(settings.max_retries, upstream=_host(settings))
        while True:
            delay = yield from _stream_try(arguments, settings, retries)
            if delay is None:
                return
            retrying.wait(delay)

    def embed(self, request: EmbeddingRequest, settings: DashScopeSettings) -> EmbeddingResponse:
        """One vector per input, in input order; ``input_type`` is sent as ``text_type``.

        Inputs are sent in batches of ``embedding_batch_size`` (at most 10 for
        text-embedding-v3/v4), one request after another; usage is their sum.
        """
        if not request.inputs:
            return EmbeddingResponse(vectors=[], usage=Usage())
        size = min(settings.embedding_batch_size, EMBEDDING_BATCH_LIMITS.get(request.model, 25))
        host = _host(settings)
        vectors: list[list[float]] = []
        tokens: int | None = None
        for start in range(0, len(request.inputs), size):
            batch = request.inputs[start : start + size]
            response = _send(
                settings,
                lambda transport, batch=batch: dashscope.TextEmbedding.call(
                    model=request.model, input=batch, text_type=request.input_type, **transport
                ),
            )
            items = (getattr(response, "output", None) or {}).get("embeddings") or []
            items = sorted(items, key=lambda item: item.get("text_index", 0))
            if len(items) != len(batch):
                raise UpstreamServerError(
                    f"Model server {host} returned {len(items)} vectors for {len(batch)} inputs.",
                    upstream=host,
                )
            vectors.extend([float(x) for x in item["embedding"]] for item in items)
            used = _total_tokens(getattr(response, "usage", None))
            if used is not None:
                tokens = (tokens or 0) + used
        return EmbeddingResponse(
            vectors=vectors, usage=Usage(input_tokens=tokens) if tokens is not None else None
        )

    def rerank(self, request: RerankRequest, settings: DashScopeSettings) -> RerankResponse:
        """Relevance of each document to the query, best first (``top_n`` of them when
        given); ``index`` is the document's position in the request."""
        if not request.documents:
            return RerankResponse(results=[], usage=Usage())
        response = _send(
            settings,
            lambda transport: dashscope.TextReRank.call(
                model=request.model,
                query=request.query,
                documents=list(request.documents),
                top_n=request.top_n,
                **transport,
            ),
        )
        found = (getattr(response, "output", None) or {}).get("results") or []
        results = []
        for item in found:
            index = item.get("index")
            if not isinstance(index, int) or not 0 <= index < len(request.documents):
                host = _host(settings)
                raise UpstreamServerError(
                    f"Model server {host} ranked a document that was not sent ({index!r}).",
                    upstream=host,
                )
            results.append(RerankResult(index=index, score=float(item.get("relevance_score") or 0)))
        results.sort(key=lambda result: -result.score)
        used = _total_tokens(getattr(response, "usage", None))
        return RerankResponse(
            results=results, usage=Usage(input_tokens=used) if used is not None else None
        )
