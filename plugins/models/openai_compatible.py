"""Model providers for servers that speak the OpenAI API: OpenAI itself, ``vllm serve``,
Ollama, LM Studio, llama.cpp's server, DashScope's compatible mode and the like.

Rerank goes to whichever rerank API the server has (``rerank_api``): the Jina/Cohere-style
``POST {base_url}/rerank`` of vLLM, Xinference, Jina, llama.cpp and Infinity; vLLM's
``POST /score``; or Text Embeddings Inference's own ``POST /rerank`` (``texts``, not
``documents``). The OpenAI API itself has none.

One ``openai.OpenAI`` client is kept per distinct endpoint configuration, so connections
are pooled across calls. Upstream failures are raised as ``UpstreamError`` subclasses
(authentication, rate limit with ``retry_after``, timeout, connection, bad request, server
error) that name the host that failed and never carry the API key, so the platform can map
each kind to its own answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import openai
from pydantic import Field, field_validator

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
    ToolCall,
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

#: Sent when no key is configured: vLLM, Ollama and LM Studio accept any key.
PLACEHOLDER_API_KEY = "EMPTY"
#: How many distinct endpoint configurations keep a client.
MAX_CACHED_CLIENTS = 64
#: Keys in ``ChatRequest.extra`` that would override what the provider itself sends.
RESERVED_EXTRA_KEYS = frozenset({"model", "messages", "stream", "stream_options", "tools"})

#: The rerank APIs a server may offer (``OpenAICompatibleSettings.rerank_api``).
RerankApi = Literal["rerank", "score", "tei"]

# --- settings and clients ----------------------------------------------------------------------


class OpenAICompatibleSettings(PluginSettings):
    base_url: str = Field(
        default="https://api.openai.com/v1",
        description="The API root, ending in /v1 (e.g. http://127.0.0.1:8000/v1 for vLLM).",
    )
    api_key: SecretStr | None = Field(
        default=None, description="Sent as a bearer token; leave empty for local servers."
    )
    timeout_seconds: float = Field(
        default=60, ge=1, le=600, description="Per connect/read; for streams, between pieces."
    )
    max_retries: int = Field(
        default=2, ge=0, le=10, description="Retries on connection errors, 408, 409, 429, 5xx."
    )
    organization: str | None = Field(default=None, description="OpenAI organization id.")
    rerank_api: RerankApi = Field(
        default="rerank",
        description="Rerank models only: the server's rerank API. rerank: POST "
        "{base_url}/rerank with query and documents, answering results with relevance_score "
        "(vLLM, Xinference, Jina, llama.cpp, Infinity); score: vLLM's POST /score at the "
        "server's root (text_1, text_2); tei: Text Embeddings Inference's POST /rerank at "
        "the server's root (query, texts).",
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "base_url is an http:// or https:// URL, e.g. http://127.0.0.1:8000/v1"
            )
        return value


class VLLMSettings(OpenAICompatibleSettings):
    base_url: str = Field(
        default="http://127.0.0.1:8000/v1",
        description="The `vllm serve` API root, ending in /v1.",
    )
    # An in-process engine for batches: workers of queue batch-vllm load the model once
    # and run whole batch files through vLLM's offline engine instead of over HTTP.
    engine_model_path: str | None = Field(
        default=None,
        description="Batches only: a model directory on the GPU workers (safetensors). "
        "When set, this endpoint's batches run on an in-process vLLM engine in workers "
        "started with `ministudio worker --queues batch-vllm`; real-time calls still go to "
        "base_url.",
    )
    engine_tensor_parallel_size: int = Field(
        default=1, ge=1, le=64, description="GPUs the engine splits the model across."
    )
    engine_gpu_memory_utilization: float = Field(
        default=0.9, gt=0, le=1, description="Share of each GPU's memory the engine may take."
    )
    engine_max_model_len: int | None = Field(
        default=None, gt=0, description="Context length; the model's own when empty."
    )
    engine_dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        default="auto",
        description="Weights' type in the engine: auto (the model's), bfloat16, float16 or "
        "float32 (on a CPU without AVX-512, bfloat16 generated garbage: use float32).",
    )
    engine_chunk_size: int = Field(
        default=256, ge=1, le=10_000, description="Batch lines per engine call (a checkpoint)."
    )


ClientT = TypeVar("ClientT", openai.OpenAI, openai.AsyncOpenAI)

_clients: dict[tuple[Any, ...], openai.OpenAI] = {}
_clients_lock = threading.Lock()


def _secret(settings: OpenAICompatibleSettings) -> str | None:
    return settings.api_key.get_secret_value() if settings.api_key is not None else None


def _client_key(settings: OpenAICompatibleSettings) -> tuple[Any, ...]:
    """What makes two endpoints' clients differ (the key hashed)."""
    key = _secret(settings)
    return (
        settings.base_url,
        hashlib.sha256(key.encode()).hexdigest() if key else None,
        settings.timeout_seconds,
        settings.max_retries,
        settings.organization,
    )


def _new_client(settings: OpenAICompatibleSettings, kind: type[ClientT]) -> ClientT:
    client = kind(
        api_key=_secret(settings) or PLACEHOLDER_API_KEY,
        base_url=settings.base_url,
        organization=settings.organization,
        timeout=settings.timeout_seconds,
        max_retries=settings.max_retries,
    )
    # The SDK fills these from OPENAI_ORG_ID / OPENAI_PROJECT_ID when not given; the
    # platform's environment must not leak into a workspace's endpoint.
    client.organization = settings.organization
    client.project = None
    return client


def _kept(clients: dict, key: tuple[Any, ...], make: Callable[[], ClientT]) -> ClientT:
    client = clients.get(key)
    if client is None:
        client = make()
        if len(clients) >= MAX_CACHED_CLIENTS:
            # Forget the oldest; a call still using it keeps its reference.
            clients.pop(next(iter(clients)))
        clients[key] = client
    return client


def _client(settings: OpenAICompatibleSettings) -> openai.OpenAI:
    """The shared client for this configuration."""
    with _clients_lock:
        return _kept(_clients, _client_key(settings), lambda: _new_client(settings, openai.OpenAI))


#: Async clients, per event loop: an asyncio connection pool belongs to its loop.
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict] = (
    weakref.WeakKeyDictionary()
)


def _async_client(settings: OpenAICompatibleSettings) -> openai.AsyncOpenAI:
    """The running loop's shared async client for this configuration."""
    clients = _async_clients.setdefault(asyncio.get_running_loop(), {})
    return _kept(clients, _client_key(settings), lambda: _new_client(settings, openai.AsyncOpenAI))


# --- error mapping ------------------------------------------------------------------------------


def _upstream_message(exc: openai.APIError) -> str:
    """What the server said, without the SDK's "Error code: 429 - {...}" wrapping."""
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        return body["message"]
    if isinstance(body, str) and body.strip():
        return " ".join(body.split())[:300]
    if isinstance(exc, openai.APIStatusError):
        return exc.response.reason_phrase or ""
    return exc.message


def _scrub(text: str, secret: str | None) -> str:
    return scrub(text, [secret], min_length=4)


def map_error(exc: openai.OpenAIError, settings: OpenAICompatibleSettings) -> UpstreamError:
    """The ``UpstreamError`` for an ``openai`` SDK exception, naming the upstream host and
    with the configured key removed from anything the server echoed."""
    host = host_label(settings.base_url)
    secret = _secret(settings)
    if isinstance(exc, openai.APITimeoutError):
        return UpstreamTimeoutError(
            f"Model server {host} did not answer within {settings.timeout_seconds:g} s.",
            upstream=host,
        )
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        detail = f" ({_scrub(str(cause), secret)})" if cause is not None and str(cause) else ""
        return UpstreamConnectionError(f"Cannot reach model server {host}{detail}.", upstream=host)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        said = _scrub(_upstream_message(exc), secret)
        fields: dict[str, Any] = {"status": status, "code": exc.code, "upstream": host}
        suffix = f": {said}" if said else "."
        if status in (401, 403):
            what = "refused the credentials" if status == 401 else "denied access"
            return UpstreamAuthenticationError(
                f"Model server {host} {what} (HTTP {status}){suffix}", **fields
            )
        if status == 429:
            retry_after = retry_after_from_headers(exc.response.headers)
            return UpstreamRateLimitError(
                f"Model server {host} is rate limiting requests (HTTP 429){suffix}",
                retry_after=retry_after,
                **fields,
            )
        if status == 408:
            return UpstreamTimeoutError(
                f"Model server {host} timed out (HTTP 408){suffix}", **fields
            )
        if status >= 500:
            return UpstreamServerError(
                f"Model server {host} failed (HTTP {status}){suffix}", **fields
            )
        # A structured reason ("maximum context length is ...") is the caller's to read.
        reason = said if isinstance(exc.body, dict) and said else None
        return UpstreamBadRequestError(
            f"Model server {host} rejected the request (HTTP {status}){suffix}",
            caller_detail=reason,
            **fields,
        )
    if isinstance(exc, openai.APIError):  # an error event mid-stream, an unparsable answer
        said = _scrub(_upstream_message(exc), secret)
        return UpstreamServerError(
            f"Model server {host} reported an error: {said}", code=exc.code, upstream=host
        )
    return UpstreamError(
        f"Calling model server {host} failed: {_scrub(str(exc), secret)}", upstream=host
    )


# --- request and response mapping -------------------------------------------------------------


def _message_param(message: ChatMessage) -> dict[str, Any]:
    if message.role == "tool":
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id or "",
            "content": message.content or "",
        }
    param: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.role == "assistant" and message.tool_calls:
        param["tool_calls"] = tool_calls_param(message.tool_calls)
    elif param["content"] is None:
        param["content"] = ""
    return param


def _chat_arguments(request: ChatRequest) -> dict[str, Any]:
    refuse_reserved(request.extra, RESERVED_EXTRA_KEYS)
    arguments: dict[str, Any] = {
        "model": request.model,
        "messages": [_message_param(m) for m in request.messages],
        **chat_options(request),
    }
    if request.extra:
        arguments["extra_body"] = dict(request.extra)
    return arguments


def _usage(usage: Any) -> Usage | None:
    if usage is None:
        return None
    return Usage(
        input_tokens=getattr(usage, "prompt_tokens", 0) or 0,
        output_tokens=getattr(usage, "completion_tokens", 0) or 0,
    )


def _answer(completion: Any, settings: OpenAICompatibleSettings) -> ChatResponse:
    """A ``chat.completion`` as the contract's answer."""
    if not completion.choices:
        host = host_label(settings.base_url)
        raise UpstreamServerError(f"Model server {host} returned no choices.", upstream=host)
    choice = completion.choices[0]
    message = choice.message
    calls = [
        ToolCall(
            id=call.id or f"call_{n}",
            name=call.function.name,
            arguments=call.function.arguments or "",
        )
        for n, call in enumerate(message.tool_calls or [])
        if getattr(call, "function", None) is not None
    ]
    return ChatResponse(
        message=ChatMessage(role="assistant", content=message.content, tool_calls=calls),
        finish_reason=finish_reason_for(choice.finish_reason, calls),
        usage=_usage(completion.usage),
    )


class _StreamReader:
    """Reads ``chat.completion.chunk`` objects: text deltas out at once, tool-call fragments
    joined (every ``ToolCall`` a chunk carries is complete), usage and finish reason kept
    for the last chunk."""

    def __init__(self) -> None:
        self.assembler = ToolCallAssembler()
        self.finish_reason: str | None = None
        self.usage: Usage | None = None

    def read(self, chunk: Any) -> ChatChunk | None:
        if chunk.usage is not None:
            self.usage = _usage(chunk.usage)
        if not chunk.choices:
            return None
        choice = chunk.choices[0]
        delta = choice.delta
        if delta is not None and delta.tool_calls:
            self.assembler.add(delta.tool_calls)
        if choice.finish_reason:
            self.finish_reason = choice.finish_reason
        if delta is not None and delta.content:
            return ChatChunk(content=delta.content)
        return None

    def last(self) -> ChatChunk:
        return self.assembler.last_chunk(self.finish_reason, self.usage)


def _embeddings(
    response: Any, request: EmbeddingRequest, settings: OpenAICompatibleSettings
) -> EmbeddingResponse:
    """An embeddings ``list`` as the contract's answer, one vector per input in order."""
    data = sorted(response.data, key=lambda item: item.index)
    if len(data) != len(request.inputs):
        host = host_label(settings.base_url)
        raise UpstreamServerError(
            f"Model server {host} returned {len(data)} vectors for {len(request.inputs)} inputs.",
            upstream=host,
        )
    usage = response.usage
    return EmbeddingResponse(
        vectors=[list(item.embedding) for item in data],
        usage=Usage(input_tokens=usage.prompt_tokens or 0) if usage is not None else None,
    )


# --- rerank -------------------------------------------------------------------------------------


def _server_root(base_url: str) -> str:
    """The server's address without the API root's ``/v1``: vLLM serves ``/score`` and TEI
    its ``/rerank`` beside ``/v1``, not under it."""
    return base_url.removesuffix("/v1")


def _rerank_call(request: RerankRequest, settings: OpenAICompatibleSettings) -> tuple[str, dict]:
    """Where the request goes (a path under ``base_url``, or a whole URL) and its body."""
    if settings.rerank_api == "score":
        # One query against many texts: vLLM pairs text_1 with each of text_2.
        body = {"model": request.model, "text_1": request.query, "text_2": request.documents}
        return f"{_server_root(settings.base_url)}/score", body
    if settings.rerank_api == "tei":
        # TEI refuses an input over the model's length unless told to truncate; a chunk of
        # a knowledge base may be longer than a reranker's 512 tokens.
        body = {"query": request.query, "texts": request.documents, "truncate": True}
        return f"{_server_root(settings.base_url)}/rerank", body
    body = {"model": request.model, "query": request.query, "documents": request.documents}
    if request.top_n is not None:
        body["top_n"] = request.top_n
    return "/rerank", body


def _rerank_items(answer: Any, api: RerankApi) -> list[Any] | None:
    """The answer's ranked items (each with an index and a score), or None when the answer
    is not the API's shape."""
    if api == "tei":
        return answer if isinstance(answer, list) else None
    key = "data" if api == "score" else "results"
    items = answer.get(key) if isinstance(answer, dict) else None
    return items if isinstance(items, list) else None


def _rerank_usage(answer: Any) -> Usage | None:
    """Tokens the server says it read: ``usage`` (vLLM, Jina, llama.cpp) or Xinference's
    ``meta.tokens``; None when it said nothing (TEI), so that the platform counts them."""
    if not isinstance(answer, dict):
        return None
    usage = answer.get("usage")
    if isinstance(usage, dict):
        tokens = usage.get("prompt_tokens") or usage.get("total_tokens")
    else:
        meta = answer.get("meta")
        counted = meta.get("tokens") if isinstance(meta, dict) else None
        tokens = counted.get("input_tokens") if isinstance(counted, dict) else None
    if isinstance(tokens, int) and not isinstance(tokens, bool) and tokens >= 0:
        return Usage(input_tokens=tokens)
    return None


def _rerank_results(
    items: list[Any], request: RerankRequest, settings: OpenAICompatibleSettings
) -> list[RerankResult]:
    """Each ranked item as a ``RerankResult``, best first; an index that was not sent or a
    score that is not a number is the server's fault."""
    host = host_label(settings.base_url)
    score_key = "relevance_score" if settings.rerank_api == "rerank" else "score"
    results = []
    for item in items:
        index = item.get("index") if isinstance(item, dict) else None
        score = item.get(score_key) if isinstance(item, dict) else None
        if (
            not isinstance(index, int)
            or isinstance(index, bool)
            or not 0 <= index < len(request.documents)
        ):
            raise UpstreamServerError(
                f"Model server {host} ranked a document that was not sent ({index!r}).",
                upstream=host,
            )
        number = isinstance(score, int | float) and not isinstance(score, bool)
        if not number or not math.isfinite(score):
            raise UpstreamServerError(
                f"Model server {host} gave document {index} no usable score ({score!r}).",
                upstream=host,
            )
        results.append(RerankResult(index=index, score=float(score)))
    results.sort(key=lambda result: -result.score)
    # score and tei answer every document; top_n is applied here for them.
    return results[: request.top_n] if request.top_n is not None else results


# --- the providers -----------------------------------------------------------------------------


class OpenAICompatibleProvider(ModelProvider):
    display_name = "OpenAI-compatible"
    description = (
        "Chat (streaming, tool calls) and embeddings from any server that speaks the OpenAI "
        "API: OpenAI, vLLM's `vllm serve`, Ollama, LM Studio, llama.cpp and others; rerank "
        "from servers with a rerank API (vLLM, Text Embeddings Inference, Xinference, Jina). "
        "Needs the server's base URL and, where it checks one, an API key."
    )
    Settings = OpenAICompatibleSettings
    capabilities = frozenset(
        {
            Capability.CHAT,
            Capability.CHAT_STREAM,
            Capability.TOOL_CALLS,
            Capability.EMBEDDINGS,
            Capability.RERANK,
        }
    )

    def chat(self, request: ChatRequest, settings: OpenAICompatibleSettings) -> ChatResponse:
        """One chat completion; tool calls the model asks for are in ``message.tool_calls``.

        Raises an ``UpstreamError`` subclass when the server fails or refuses.
        """
        arguments = _chat_arguments(request)
        try:
            completion = _client(settings).chat.completions.create(**arguments)
        except openai.OpenAIError as exc:
            raise map_error(exc, settings) from None
        return _answer(completion, settings)

    async def achat(self, request: ChatRequest, settings: OpenAICompatibleSettings) -> ChatResponse:
        """``chat`` on the event loop's pooled async client."""
        arguments = _chat_arguments(request)
        try:
            completion = await _async_client(settings).chat.completions.create(**arguments)
        except openai.OpenAIError as exc:
            raise map_error(exc, settings) from None
        return _answer(completion, settings)

    def chat_stream(
        self, request: ChatRequest, settings: OpenAICompatibleSettings
    ) -> Iterator[ChatChunk]:
        """The completion as it is generated: a chunk per text delta as it arrives, then one
        last chunk with ``finish_reason``, the usage, and the tool calls, each whole.

        Tool-call fragments are joined here rather than forwarded, so every ``ToolCall`` a
        chunk carries is complete. Raises an ``UpstreamError`` subclass, possibly after
        some chunks, when the server fails.
        """
        arguments = _chat_arguments(request)
        reader = _StreamReader()
        try:
            stream = _client(settings).chat.completions.create(
                **arguments, stream=True, stream_options={"include_usage": True}
            )
            with stream:
                for chunk in stream:
                    if (piece := reader.read(chunk)) is not None:
                        yield piece
        except openai.OpenAIError as exc:
            raise map_error(exc, settings) from None
        yield reader.last()

    async def achat_stream(
        self, request: ChatRequest, settings: OpenAICompatibleSettings
    ) -> AsyncIterator[ChatChunk]:
        """``chat_stream`` on the event loop's pooled async client; closing it closes the
        upstream response."""
        arguments = _chat_arguments(request)
        reader = _StreamReader()
        try:
            stream = await _async_client(settings).chat.completions.create(
                **arguments, stream=True, stream_options={"include_usage": True}
            )
            async with stream:
                async for chunk in stream:
                    if (piece := reader.read(chunk)) is not None:
                        yield piece
        except openai.OpenAIError as exc:
            raise map_error(exc, settings) from None
        yield reader.last()

    def embed(
        self, request: EmbeddingRequest, settings: OpenAICompatibleSettings
    ) -> EmbeddingResponse:
        """One vector per input, in input order (``input_type`` is not part of this API)."""
        if not request.inputs:
            return EmbeddingResponse(vectors=[], usage=Usage())
        try:
            response = _client(settings).embeddings.create(
                model=request.model, input=request.inputs
            )
        except openai.OpenAIError as exc:
            raise map_error(exc, settings) from None
        except ValueError as exc:  # the SDK's "No embedding data received"
            host = host_label(settings.base_url)
            raise UpstreamServerError(f"Model server {host}: {exc}.", upstream=host) from None
        return _embeddings(response, request, settings)

    async def aembed(
        self, request: EmbeddingRequest, settings: OpenAICompatibleSettings
    ) -> EmbeddingResponse:
        """``embed`` on the event loop's pooled async client."""
        if not request.inputs:
            return EmbeddingResponse(vectors=[], usage=Usage())
        try:
            response = await _async_client(settings).embeddings.create(
                model=request.model, input=request.inputs
            )
        except openai.OpenAIError as exc:
            raise map_error(exc, settings) from None
        except ValueError as exc:  # the SDK's "No embedding data received"
            host = host_label(settings.base_url)
            raise UpstreamServerError(f"Model server {host}: {exc}.", upstream=host) from None
        return _embeddings(response, request, settings)

    def rerank(self, request: RerankRequest, settings: OpenAICompatibleSettings) -> RerankResponse:
        """Relevance of each document to the query, best first (``top_n`` of them when
        given); ``index`` is the document's position in the request.

        Sent to the API ``settings.rerank_api`` names, with the endpoint's key, timeout and
        retries. Raises an ``UpstreamError`` subclass when the server fails, refuses, or
        answers in another shape than that API's.
        """
        if not request.documents:
            return RerankResponse(results=[], usage=Usage())
        path, body = _rerank_call(request, settings)
        host = host_label(settings.base_url)
        try:
            # The SDK's own request machinery: the same auth header, timeout, retries and
            # error kinds as chat, for a route it has no method for.
            answer = _client(settings).post(path, body=body, cast_to=object)
        except openai.OpenAIError as exc:
            raise map_error(exc, settings) from None
        except ValueError:  # a JSON content type with a body that is not JSON
            raise UpstreamServerError(
                f"Model server {host} answered the rerank request with something not JSON.",
                upstream=host,
            ) from None
        items = _rerank_items(answer, settings.rerank_api)
        if items is None:
            raise UpstreamServerError(
                f"Model server {host} did not answer in the shape of the "
                f"'{settings.rerank_api}' rerank API; check the endpoint's rerank_api.",
                upstream=host,
            )
        return RerankResponse(
            results=_rerank_results(items, request, settings), usage=_rerank_usage(answer)
        )


class VLLMProvider(OpenAICompatibleProvider):
    display_name = "vLLM server"
    description = (
        "A model served by `vllm serve` through its OpenAI-compatible API: chat with "
        "streaming and tool calls, embeddings for embedding models and rerank for reranker "
        "models (its /rerank API, or /score with rerank_api score). Needs the server's "
        "base URL (default http://127.0.0.1:8000/v1) and its --api-key if it was given one."
    )
    Settings = VLLMSettings
