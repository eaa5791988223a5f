"""Agent-app fixtures: acme and globex granted a chat model with native tool calling
(``agent-chat``), one without (``plain-chat``, so apps fall back to ReAct), and the
knowledge tests' embedding and rerank models, all on the scripted upstream."""

import pytest

from apps.accounts.services import create_api_key
from apps.model_endpoints import services as endpoints
from tests.console import ConsoleClient
from tests.gateway_fixtures import openai_settings
from tests.knowledge.conftest import models  # noqa: F401  (a fixture, used by `chat`)


@pytest.fixture
def chat(upstream, acme, globex, models):  # noqa: F811
    settings = openai_settings(upstream, timeout_seconds=5)
    native = endpoints.create_endpoint(
        name="agent-chat",
        provider="openai",
        upstream_model="up-chat",
        capabilities=["chat", "tool_calls"],
        settings=settings,
    )
    plain = endpoints.create_endpoint(
        name="plain-chat",
        provider="openai",
        upstream_model="up-plain",
        capabilities=["chat"],
        settings=settings,
    )
    for workspace in (acme, globex):
        endpoints.grant(native, workspace, by=None, default=True)
        endpoints.grant(plain, workspace, by=None)
    return {"native": native, "plain": plain}


@pytest.fixture
def acme_console(alice, chat) -> ConsoleClient:
    return ConsoleClient().as_user(alice, "acme")


@pytest.fixture
def acme_key(acme, alice) -> str:
    return create_api_key(acme, name="program", created_by=alice).plaintext


@pytest.fixture
def globex_key(globex, bob) -> str:
    return create_api_key(globex, name="other", created_by=bob).plaintext


def make_app(console: ConsoleClient, name: str = "Helper", **draft) -> dict:
    response = console.post("/apps", {"name": name, "draft": draft or None})
    assert response.status_code == 201, response.content
    return response.json()


def publish(console: ConsoleClient, app_id: str, notes: str = "") -> dict:
    response = console.post(f"/apps/{app_id}/publish", {"notes": notes})
    assert response.status_code == 201, response.content
    return response.json()


def play(console: ConsoleClient, app_id: str, prompt: str, **fields) -> dict:
    """A playground run of the draft, not streamed."""
    response = console.post(
        f"/apps/{app_id}/playground", {"prompt": prompt, "stream": False, **fields}
    )
    assert response.status_code == 200, response.content
    return response.json()
