"""Knowledge-base fixtures: acme and globex each granted an embedding model on the scripted
upstream (feature-hashed vectors: texts sharing words are close) and a rerank model."""

import pytest

from apps.model_endpoints import services as endpoints
from apps.plugins.services import sync_plugins
from tests.console import ConsoleClient
from tests.gateway_fixtures import openai_settings

DIMENSION = 64


@pytest.fixture
def models(upstream, acme, globex):
    sync_plugins()
    embedding = endpoints.create_endpoint(
        name="stub-embed",
        provider="openai",
        upstream_model="up-embed",
        capabilities=["embedding"],
        settings=openai_settings(upstream, timeout_seconds=5),
        embedding_dimension=DIMENSION,
    )
    rerank = endpoints.create_endpoint(
        name="stub-rerank",
        provider="dashscope",
        upstream_model="gte-rerank",
        capabilities=["rerank"],
        settings={"api_key": "sk-up", "base_url": upstream.dashscope_base_url},
    )
    for workspace in (acme, globex):
        endpoints.grant(embedding, workspace, by=None, default=True)
        endpoints.grant(rerank, workspace, by=None)
    return {"embedding": embedding, "rerank": rerank}


@pytest.fixture
def acme_console(alice, models) -> ConsoleClient:
    return ConsoleClient().as_user(alice, "acme")


def create_kb(console: ConsoleClient, name: str = "Handbook", **fields) -> dict:
    response = console.post("/knowledge-bases", {"name": name, **fields})
    assert response.status_code == 201, response.content
    return response.json()


def upload(console: ConsoleClient, kb_id: str, files: dict[str, bytes], **fields) -> dict:
    response = console.upload(f"/knowledge-bases/{kb_id}/documents", files, **fields)
    assert response.status_code == 202, response.content
    return response.json()
