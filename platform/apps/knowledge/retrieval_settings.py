"""How a knowledge base is searched by default; a hit test or an app may override each
field per query."""

from typing import Literal

from pydantic import BaseModel, Field


class RetrievalSettings(BaseModel):
    mode: Literal["vector", "fulltext", "hybrid"] = Field(
        "hybrid", description="hybrid fuses vector and full-text ranks (reciprocal rank fusion)"
    )
    top_k: int = Field(5, ge=1, le=100, description="Chunks returned.")
    score_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Drop results scoring below it (the score of the last stage, 0 to 1).",
    )
    rerank: bool = Field(False, description="Reorder with the knowledge base's rerank model.")
    candidates: int = Field(
        50, ge=1, le=1000, description="Chunks each stage passes on (to fusion or rerank)."
    )
    ef_search: int = Field(
        200,
        ge=10,
        le=1000,
        description="HNSW search breadth: higher finds more, slower (200: recall@10 0.95 at 1M).",
    )
    rrf_k: int = Field(60, ge=1, le=1000, description="Reciprocal rank fusion's k.")
