"""Fixtures for tests that call the gateway: the platform on a real ASGI server, and a workspace
that was granted models on the scripted upstream."""

import threading
import time

import pytest
import uvicorn

from apps.accounts.services import create_api_key
from apps.model_endpoints import services as endpoints
from apps.plugins.services import sync_plugins
from tests.worker_process import free_port


@pytest.fixture
def platform_url(transactional_db):
    """The platform on uvicorn in this process (so it shares the test database)."""
    port = free_port()
    config = uvicorn.Config(
        "studio.asgi:application", host="127.0.0.1", port=port, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def openai_settings(upstream, *, timeout_seconds: float = 2) -> dict:
    """Settings of an ``openai`` endpoint on the scripted upstream: no retries, short timeout."""
    return {
        "base_url": upstream.openai_base_url,
        "api_key": "sk-up",
        "max_retries": 0,
        "timeout_seconds": timeout_seconds,
    }


@pytest.fixture
def granted(upstream, acme, globex, alice):
    """acme is granted a chat and an embedding model; globex nothing."""
    sync_plugins()
    settings = openai_settings(upstream)
    chat = endpoints.create_endpoint(
        name="qwen-plus",
        provider="openai",
        upstream_model="up-chat",
        capabilities=["chat"],
        settings=settings,
        default_parameters={"temperature": 0.3},
    )
    embed = endpoints.create_endpoint(
        name="text-embedding-v3",
        provider="openai",
        upstream_model="up-embed",
        capabilities=["embedding"],
        settings=settings,
        embedding_dimension=64,
    )
    for endpoint in (chat, embed):
        endpoints.grant(endpoint, acme, by=None)
    return {
        "acme_key": create_api_key(acme, name="program", created_by=alice).plaintext,
        "globex_key": create_api_key(globex, name="other", created_by=None).plaintext,
    }
