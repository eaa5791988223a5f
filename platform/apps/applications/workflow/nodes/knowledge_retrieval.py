"""Knowledge retrieval: searches knowledge bases of the workspace with the text of a
variable (the caller's prompt by default) and hands the passages it finds to later nodes,
as a list (``passages``) and as numbered text ready for a prompt (``text``).

Settings: ``knowledge_base_ids`` (one or more), ``query`` (the variable searched for), and
overrides of how the search runs: ``top_k``, ``mode``, ``score_threshold``, ``rerank``; each
left unset keeps the first knowledge base's own setting, as an agent app's search does.
The search is the knowledge bases' own (``apps.knowledge.retrieval.retrieve``), metered for
the app, and traced as a ``retrieval`` step.
"""

import time
import uuid
from typing import Any, Literal

from pydantic import Field, field_validator

from apps.applications.models import StepKind
from apps.applications.recording import ms_since
from apps.applications.workflow.nodes.base import (
    Node,
    NodeContext,
    NodeResult,
    NodeSettings,
    Read,
    Uses,
    VarType,
    as_text,
)
from apps.applications.workflow.nodes.references import Reference
from apps.knowledge.models import KnowledgeBase
from apps.knowledge.retrieval import Hit, retrieve
from apps.knowledge.retrieval_settings import RetrievalSettings
from kernel.errors import InvalidParameter


class KnowledgeRetrievalSettings(NodeSettings):
    knowledge_base_ids: list[uuid.UUID] = Field(
        min_length=1, max_length=20, description="The knowledge bases searched."
    )
    query: Reference = Field(
        "sys.query", description="The variable whose text is searched for (node_id.output)."
    )
    top_k: int | None = Field(
        None, ge=1, le=20, description="Passages returned; unset: the knowledge base's own."
    )
    mode: Literal["vector", "fulltext", "hybrid"] | None = Field(
        None, description="How to search; unset: the knowledge base's own mode."
    )
    score_threshold: float | None = Field(
        None, ge=0, le=1, description="Drop passages scoring below it; unset: the knowledge base's."
    )
    rerank: bool | None = Field(
        None, description="Reorder with the rerank model; unset: the knowledge base's setting."
    )

    @field_validator("knowledge_base_ids")
    @classmethod
    def _distinct(cls, ids: list[uuid.UUID]) -> list[uuid.UUID]:
        if len(ids) != len(set(ids)):
            raise ValueError("each knowledge base once")
        return ids


def options_for(
    settings: KnowledgeRetrievalSettings, knowledge_bases: list[KnowledgeBase]
) -> RetrievalSettings:
    """The first knowledge base's retrieval settings with the node's overrides."""
    overrides = {
        name: value
        for name in ("top_k", "mode", "score_threshold", "rerank")
        if (value := getattr(settings, name)) is not None
    }
    return RetrievalSettings.model_validate({**knowledge_bases[0].retrieval, **overrides})


def passage(hit: Hit) -> dict[str, Any]:
    """One hit as the ``passages`` output holds it."""
    return {
        "text": hit.text,
        "document_name": hit.document_name,
        "document_id": hit.document_id,
        "score": round(hit.score, 6),
        "page": hit.page,
        "section": hit.section,
        "knowledge_base_id": hit.knowledge_base_id,
    }


def numbered(passages: list[dict[str, Any]]) -> str:
    """The passages as a prompt lists them: ``[1] name (page 3)`` then the text."""
    blocks = []
    for number, found in enumerate(passages, start=1):
        where = f" (page {found['page']})" if found["page"] else ""
        blocks.append(f"[{number}] {found['document_name']}{where}\n{found['text']}")
    return "\n\n".join(blocks)


class KnowledgeRetrieval(Node):
    type = "knowledge_retrieval"
    Settings = KnowledgeRetrievalSettings

    def outputs(self, settings: KnowledgeRetrievalSettings) -> dict[str, VarType]:
        return {"passages": "array", "text": "string"}

    def reads(self, settings: KnowledgeRetrievalSettings) -> list[Read]:
        return [Read(settings.query, "string", "query")]

    def uses(self, settings: KnowledgeRetrievalSettings) -> Uses:
        return Uses(knowledge_base_ids=[str(kb_id) for kb_id in settings.knowledge_base_ids])

    def run(self, ctx: NodeContext, settings: KnowledgeRetrievalSettings) -> NodeResult:
        query = as_text(ctx.value(settings.query)).strip()
        if not query:
            raise ctx.failed(f"{settings.query} is empty: there is nothing to search for.")
        knowledge_bases = self._knowledge_bases(ctx, settings)
        options = options_for(settings, knowledge_bases)
        began = time.monotonic()
        try:
            hits = retrieve(
                ctx.run.workspace,
                knowledge_bases,
                query,
                options,
                app_id=str(ctx.run.app.pk),
                node_id=ctx.node.id,
            )
        except InvalidParameter as exc:  # e.g. rerank asked of knowledge bases with no model
            raise ctx.failed(exc.message) from None
        passages = [passage(hit) for hit in hits]
        ctx.run.trace.step(
            StepKind.RETRIEVAL,
            self.type,
            input={
                "query": query,
                "knowledge_base_ids": [str(kb.pk) for kb in knowledge_bases],
                "top_k": options.top_k,
                "mode": options.mode,
                "rerank": options.rerank,
            },
            output={"passages": passages},
            latency_ms=ms_since(began),
        )
        return NodeResult({"passages": passages, "text": numbered(passages)})

    def _knowledge_bases(
        self, ctx: NodeContext, settings: KnowledgeRetrievalSettings
    ) -> list[KnowledgeBase]:
        """The node's knowledge bases, in its order; it fails naming any that is gone."""
        found = {
            kb.pk: kb
            for kb in KnowledgeBase.objects.in_workspace(ctx.run.workspace)
            .filter(pk__in=settings.knowledge_base_ids)
            .select_related("embedding_endpoint", "rerank_endpoint", "workspace")
        }
        missing = [str(kb_id) for kb_id in settings.knowledge_base_ids if kb_id not in found]
        if missing:
            raise ctx.failed(
                f"no knowledge base {', '.join(missing)} in this workspace (deleted since?)."
            )
        return [found[kb_id] for kb_id in settings.knowledge_base_ids]
