"""The in-process vLLM backend of a batch: chat lines run through ``vllm.LLM.chat`` in
chunks, with no HTTP server and no gateway in between.

A worker that holds a GPU loads the model once (``VllmEngine.shared``) and hands it the
batch's lines a chunk at a time (``EngineConfig.chunk_size``); vLLM schedules the whole
chunk together (continuous batching), which is where the speed-up over one HTTP request
per line comes from. Each line's OpenAI chat body is converted to messages and
``vllm.SamplingParams`` (``engine_request``), and each ``RequestOutput`` back to an OpenAI
``chat.completion`` (``completion_body``) with the token counts vLLM actually used.

What the engine path cannot do, it refuses line by line (a 400 outcome, never the whole
chunk): streaming, more than one choice, tool calls (no tool parser runs here: use the
HTTP path for tools), log probabilities, structured output, images and other non-text
content. Body keys that do not change the answer (``model``, ``user``, ``metadata``,
``store`` and the like) are ignored.

vLLM is imported only when an engine is built, and nothing here imports Django, so the
conversions are tested without either.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from apps.batch.lines import BatchLine, LineOutcome, failed_line

__all__ = [
    "EngineConfig",
    "UnsupportedRequest",
    "VllmEngine",
    "completion_body",
    "engine_request",
]

#: Roles a conversation may use; "developer" is OpenAI's newer name for "system".
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
#: Content part types that carry text (OpenAI's "refusal" parts appear in assistant turns).
_TEXT_PARTS = {"text": "text", "refusal": "refusal"}
#: Sampling fields passed to ``SamplingParams`` under the same name, with their bounds.
_NUMBERS: dict[str, tuple[float, float]] = {
    "temperature": (0.0, 2.0),
    "top_p": (0.0, 1.0),
    "presence_penalty": (-2.0, 2.0),
    "frequency_penalty": (-2.0, 2.0),
}


@dataclass(frozen=True)
class EngineConfig:
    """How to load the model: one engine per distinct configuration and process.

    ``chunk_size`` is how many lines go into one ``LLM.chat`` call. ``dtype`` is vLLM's
    (``"auto"`` takes the model's; CPUs without AVX-512 want ``"float32"`` or
    ``"bfloat16"``). ``engine_args`` are further ``vllm.LLM`` keyword arguments as
    ``(name, value)`` pairs (a tuple, so the configuration stays hashable).
    """

    model_path: str
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    max_model_len: int | None = None
    chunk_size: int = 256
    dtype: str = "auto"
    engine_args: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if self.chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        if self.tensor_parallel_size < 1:
            raise ValueError("tensor_parallel_size must be at least 1")
        if not 0 < self.gpu_memory_utilization <= 1:
            raise ValueError("gpu_memory_utilization is a fraction in (0, 1]")

    def llm_arguments(self) -> dict[str, Any]:
        """The keyword arguments for ``vllm.LLM``."""
        arguments: dict[str, Any] = {
            "model": self.model_path,
            "tensor_parallel_size": self.tensor_parallel_size,
            "gpu_memory_utilization": self.gpu_memory_utilization,
            "max_model_len": self.max_model_len,
            "dtype": self.dtype,
        }
        arguments.update(dict(self.engine_args))
        return arguments


class UnsupportedRequest(Exception):
    """A line's body that the engine path cannot answer; ``param`` names the field, as in
    an OpenAI error object (e.g. ``"messages[2].content[0]"``)."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


# --- OpenAI request → engine -------------------------------------------------------------------


def _text(content: Any, where: str) -> str:
    """A message's content as one string: a string, or the text of a list of text parts."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise UnsupportedRequest(f"{where} must be a string or a list of text parts.", f"{where}")
    texts = []
    for index, part in enumerate(content):
        spot = f"{where}[{index}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in _TEXT_PARTS:
            raise UnsupportedRequest(
                f"{spot} is a {kind!r} part; the vLLM engine path takes text only "
                "(send images, audio and files through the HTTP path).",
                spot,
            )
        text = part.get(_TEXT_PARTS[kind])
        if not isinstance(text, str):
            raise UnsupportedRequest(f"{spot}.{_TEXT_PARTS[kind]} must be a string.", spot)
        texts.append(text)
    # Joined as vLLM's own server joins text parts, so both paths see the same prompt.
    return "\n".join(texts)


def _messages(body: dict[str, Any]) -> list[dict[str, str]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise UnsupportedRequest("messages must be a non-empty list.", "messages")
    converted = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise UnsupportedRequest(f"{where} must be an object.", where)
        role = message.get("role")
        if (
            role in ("tool", "function")
            or message.get("tool_calls")
            or message.get("function_call")
        ):
            raise UnsupportedRequest(
                f"{where} is part of a tool call; the vLLM engine path does not do tool "
                "calls (use the HTTP path).",
                where,
            )
        if role not in _ROLES:
            raise UnsupportedRequest(
                f"{where}.role must be one of {', '.join(sorted(_ROLES))}.", f"{where}.role"
            )
        content = _text(message.get("content"), f"{where}.content")
        converted.append({"role": _ROLES[role], "content": content})
    return converted


def _number(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    # bool is an int to Python, never a sampling value to OpenAI.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UnsupportedRequest(f"{name} must be a number.", name)
    low, high = _NUMBERS[name]
    if not low <= value <= high:
        raise UnsupportedRequest(f"{name} must be between {low:g} and {high:g}.", name)
    return float(value)


def _integer(body: dict[str, Any], name: str, *, minimum: int | None = None) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise UnsupportedRequest(f"{name} must be an integer.", name)
    if minimum is not None and value < minimum:
        raise UnsupportedRequest(f"{name} must be at least {minimum}.", name)
    return value


def _stop(body: dict[str, Any]) -> list[str]:
    stop = body.get("stop")
    if stop is None:
        return []
    if isinstance(stop, str):
        return [stop]
    if isinstance(stop, list) and all(isinstance(item, str) for item in stop):
        return list(stop)
    raise UnsupportedRequest("stop must be a string or a list of strings.", "stop")


def _refuse_what_the_engine_cannot_do(body: dict[str, Any]) -> None:
    if body.get("stream"):
        raise UnsupportedRequest("stream is not supported in a batch.", "stream")
    n = body.get("n")
    if n is not None and (isinstance(n, bool) or n != 1):
        raise UnsupportedRequest("n must be 1 on the vLLM engine path.", "n")
    for name in ("tools", "functions"):
        if body.get(name):
            raise UnsupportedRequest(
                f"{name} are not supported on the vLLM engine path: it runs no tool-call "
                "parser. Send requests with tools through the HTTP path.",
                name,
            )
    tool_choice = body.get("tool_choice")
    if tool_choice not in (None, "none", "auto"):
        raise UnsupportedRequest(
            "tool_choice is not supported on the vLLM engine path.", "tool_choice"
        )
    if body.get("logprobs") or body.get("top_logprobs"):
        raise UnsupportedRequest("logprobs are not supported on the vLLM engine path.", "logprobs")
    response_format = body.get("response_format")
    if response_format is not None and (
        not isinstance(response_format, dict) or response_format.get("type") != "text"
    ):
        raise UnsupportedRequest(
            "response_format other than text is not supported on the vLLM engine path.",
            "response_format",
        )
    if body.get("logit_bias"):
        raise UnsupportedRequest(
            "logit_bias is not supported on the vLLM engine path.", "logit_bias"
        )
    modalities = body.get("modalities")
    if modalities is not None and modalities != ["text"]:
        raise UnsupportedRequest("Only text output is supported.", "modalities")


def engine_request(line: BatchLine) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """The conversation for ``LLM.chat`` and the ``vllm.SamplingParams`` keyword arguments
    for one line's OpenAI chat body.

    Raises ``UnsupportedRequest`` for a body the engine path cannot answer. ``max_tokens``
    is always present: ``None`` when the body gives no limit. ``run_chunk`` fills what the
    body leaves unset from the model's generation config, as vLLM's OpenAI server does, and
    passes ``max_tokens=None`` when neither sets it, which vLLM reads as "up to the context
    length" (``SamplingParams``'s own default would cut every answer at 16 tokens).
    """
    body = line.body
    if not isinstance(body, dict):
        raise UnsupportedRequest("The body must be a JSON object.", None)
    _refuse_what_the_engine_cannot_do(body)
    messages = _messages(body)
    sampling: dict[str, Any] = {"n": 1}
    for name in _NUMBERS:
        value = _number(body, name)
        if value is not None:
            sampling[name] = value
    if sampling.get("top_p") == 0:
        raise UnsupportedRequest("top_p must be greater than 0.", "top_p")
    # max_completion_tokens is OpenAI's current name; max_tokens the deprecated one.
    limit = _integer(body, "max_completion_tokens", minimum=1)
    if limit is None:
        limit = _integer(body, "max_tokens", minimum=1)
    sampling["max_tokens"] = limit
    seed = _integer(body, "seed")
    if seed is not None:
        sampling["seed"] = seed
    stop = _stop(body)
    if stop:
        sampling["stop"] = stop
    return messages, sampling


# --- engine → OpenAI ---------------------------------------------------------------------------


def completion_body(output: Any, *, model: str) -> tuple[dict[str, Any], int, int]:
    """The OpenAI ``chat.completion`` for a vLLM ``RequestOutput``, and its
    ``(input_tokens, output_tokens)``, counted from the token ids the engine used (the
    prompt as the chat template rendered it, the completion as generated)."""
    choice = output.outputs[0]
    input_tokens = len(output.prompt_token_ids or ())
    output_tokens = len(choice.token_ids or ())
    body = {
        # vLLM's request ids restart at 0 in each process: not unique enough for an id.
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": choice.text, "refusal": None},
                # As vLLM's server: an output without a reason ended normally.
                "finish_reason": choice.finish_reason or "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": input_tokens,
            "completion_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
        },
    }
    return body, input_tokens, output_tokens


# --- the engine --------------------------------------------------------------------------------


def _request_errors() -> tuple[type[BaseException], ...]:
    """The exceptions with which ``LLM.chat`` rejects a request rather than fails: vLLM's
    client errors (``VLLMValidationError``: a prompt longer than the context, say), the
    ``ValueError`` older checks raise, and jinja2's ``TemplateError`` from the chat template
    (e.g. roles that do not alternate)."""
    errors: list[type[BaseException]] = [ValueError, TypeError]
    try:
        from jinja2 import TemplateError
    except ImportError:  # only the fakes of the unit tests get here
        pass
    else:
        errors.append(TemplateError)
    try:
        from vllm.exceptions import VLLMClientError
    except ImportError:  # as above; older vLLMs raise ValueError
        pass
    else:
        errors.append(VLLMClientError)
    return tuple(errors)


def _generation_defaults(llm: Any) -> dict[str, Any]:
    """The sampling values the model's ``generation_config.json`` sets (temperature, top_p,
    top_k, repetition_penalty, max_tokens, ...), which vLLM's OpenAI server applies to
    every field a request leaves unset; the engine path does the same, so that one body
    gets the same answer on both paths."""
    getter = getattr(getattr(llm, "model_config", None), "get_diff_sampling_param", None)
    return dict(getter()) if callable(getter) else {}


def _with_defaults(sampling: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    merged = {**defaults, **{name: value for name, value in sampling.items() if value is not None}}
    # No limit from the body or the model: None, which vLLM reads as "to the context's end".
    merged.setdefault("max_tokens", None)
    return merged


class VllmEngine:
    """One loaded ``vllm.LLM`` and the chunk runner on top of it.

    Build it with ``VllmEngine.shared(config)`` (the model is loaded once per process).
    ``llm`` and ``sampling_params_factory`` are for tests: an object with vLLM's ``chat``
    method and a callable that takes ``SamplingParams``' keyword arguments.
    ``run_chunk`` may be called from several threads; calls take turns, since one
    ``LLM`` runs one ``chat`` at a time. Fields a body leaves unset take the model's
    generation-config defaults (read from ``llm.model_config`` once), as on vLLM's server.
    """

    _shared: dict[EngineConfig, VllmEngine] = {}
    _shared_lock = threading.Lock()

    def __init__(
        self,
        config: EngineConfig,
        *,
        llm: Any | None = None,
        sampling_params_factory: Callable[..., Any] | None = None,
    ) -> None:
        self.config = config
        started = time.monotonic()
        self.llm = llm if llm is not None else self._load(config)
        #: Seconds the model took to load (0 for an ``llm`` passed in).
        self.load_seconds = time.monotonic() - started if llm is None else 0.0
        if sampling_params_factory is None:
            sampling_params_factory = self._sampling_params_class()
        self._sampling_params = sampling_params_factory
        self._run_lock = threading.Lock()
        self._request_errors = _request_errors()
        self._defaults = _generation_defaults(self.llm)

    @staticmethod
    def _load(config: EngineConfig) -> Any:
        from vllm import LLM

        return LLM(**config.llm_arguments())

    @staticmethod
    def _sampling_params_class() -> Callable[..., Any]:
        from vllm import SamplingParams

        return SamplingParams

    @classmethod
    def shared(cls, config: EngineConfig) -> VllmEngine:
        """This process's engine for ``config``, loading the model on the first call.

        Thread-safe: concurrent first calls load it once. Each distinct configuration is a
        separate model in memory, so a worker should keep to one.
        """
        engine = cls._shared.get(config)
        if engine is not None:
            return engine
        with cls._shared_lock:
            engine = cls._shared.get(config)
            if engine is None:
                engine = cls._shared[config] = cls(config)
        return engine

    def run_chunk(self, lines: Sequence[BatchLine], *, model: str) -> list[LineOutcome]:
        """One outcome per line, in the lines' order.

        Lines the engine path cannot answer become 400 outcomes (``invalid_request``); the
        rest go to ``LLM.chat`` in one call and come back as 200 outcomes with a
        ``chat.completion`` body (``model`` is the name it carries) and real token counts.
        If vLLM rejects the call because of one request (a prompt over the context
        length, say), the chunk is halved until that line is found and failed alone.
        Other engine failures propagate: the chunk as a whole did not run.
        """
        outcomes: list[LineOutcome | None] = [None] * len(lines)
        pending: list[tuple[int, list[dict[str, str]], Any]] = []
        for position, line in enumerate(lines):
            try:
                messages, sampling = engine_request(line)
                params = self._sampling_params(**_with_defaults(sampling, self._defaults))
            except UnsupportedRequest as exc:
                outcomes[position] = failed_line(
                    line, 400, exc.message, code="invalid_request", param=exc.param
                )
            except (ValueError, TypeError) as exc:  # SamplingParams' own validation
                outcomes[position] = failed_line(line, 400, str(exc), code="invalid_request")
            else:
                pending.append((position, messages, params))
        if pending:
            with self._run_lock:
                self._generate(pending, lines, outcomes, model)
        missing = [lines[n].line for n, outcome in enumerate(outcomes) if outcome is None]
        if missing:  # every branch above fills its line; this guards the invariant
            raise RuntimeError(f"no outcome for lines {missing}")
        return outcomes  # type: ignore[return-value]

    def _generate(
        self,
        pending: list[tuple[int, list[dict[str, str]], Any]],
        lines: Sequence[BatchLine],
        outcomes: list[LineOutcome | None],
        model: str,
    ) -> None:
        try:
            results = self.llm.chat(
                [messages for _, messages, _ in pending],
                sampling_params=[params for _, _, params in pending],
                use_tqdm=False,
            )
        except self._request_errors as exc:
            if len(pending) == 1:
                line = lines[pending[0][0]]
                outcomes[pending[0][0]] = failed_line(line, 400, str(exc), code="invalid_request")
                return
            # Which request was it? Halving finds it in log2(chunk) calls, and the good
            # halves still run batched.
            middle = len(pending) // 2
            self._generate(pending[:middle], lines, outcomes, model)
            self._generate(pending[middle:], lines, outcomes, model)
            return
        if len(results) != len(pending):
            raise RuntimeError(f"vLLM returned {len(results)} outputs for {len(pending)} prompts")
        for (position, _, _), output in zip(pending, results, strict=True):
            line = lines[position]
            if not output.outputs or output.outputs[0].finish_reason == "abort":
                outcomes[position] = failed_line(
                    line, 500, "The engine aborted this request.", code="engine_error"
                )
                continue
            body, input_tokens, output_tokens = completion_body(output, model=model)
            outcomes[position] = LineOutcome(
                line=line.line,
                custom_id=line.custom_id,
                status_code=200,
                body=body,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                request_id=body["id"],
            )
