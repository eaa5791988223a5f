"""Seeding asks every loaded model provider for its ``ready_models``: a third-party
provider's are registered and granted like the built-in local ones, and one that fails is
skipped without stopping the rest."""

import pytest

from apps.model_endpoints.models import EndpointGrant, ModelEndpoint
from apps.model_endpoints.services import seed_endpoints
from apps.plugins.services import sync_plugins
from plugins.base import Capability
from plugins.models.local import LocalProvider
from tests.plugins_app.conftest import distribution  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db

PROVIDERS = """
    from plugins.base import Capability, EmbeddingResponse, ModelProvider, ReadyModel


    class Ready(ModelProvider):
        display_name = "Ready"
        description = "One embedding model that needs no settings."
        capabilities = frozenset({Capability.EMBEDDINGS})
        supported_contract = ">=1.2,<2"

        def embed(self, request, settings):
            return EmbeddingResponse(vectors=[[0.0] * 8 for _ in request.inputs])

        def ready_models(self):
            embeddings = frozenset({Capability.EMBEDDINGS})
            return [
                ReadyModel(name="tiny-embed", capabilities=embeddings, embedding_dimension=8),
                # Not among its capabilities: skipped, not registered.
                ReadyModel(name="tiny-chat", capabilities=frozenset({Capability.CHAT})),
            ]


    class Broken(Ready):
        display_name = "Broken"

        def ready_models(self):
            raise RuntimeError("cannot tell")
"""


@pytest.fixture
def providers(distribution):  # noqa: F811
    (
        distribution("ministudio-ready")
        .module("ms_ready_plugin", PROVIDERS)
        .entry_point("model", "ready", "ms_ready_plugin:Ready")
        .entry_point("model", "broken", "ms_ready_plugin:Broken")
        .install()
    )
    sync_plugins()


def test_a_providers_ready_models_are_registered_and_granted(providers, acme):
    seeded = seed_endpoints(acme, {})
    assert ("tiny-embed", True) in {(s.name, s.created) for s in seeded}
    tiny = ModelEndpoint.objects.get(name="tiny-embed")
    assert (tiny.provider, tiny.upstream_model, tiny.capabilities) == (
        "ready",
        "tiny-embed",
        ["embedding"],
    )
    assert (tiny.embedding_dimension, tiny.display_name) == (8, "tiny-embed")
    assert EndpointGrant.objects.filter(endpoint=tiny, workspace=acme, is_default=False).exists()
    assert not ModelEndpoint.objects.filter(name="tiny-chat").exists()
    # The broken provider stopped nothing: the local models are there too.
    assert ModelEndpoint.objects.filter(provider="local", name="use-m3").exists()

    again = seed_endpoints(acme, {})
    assert ("tiny-embed", False) in {(s.name, s.created) for s in again}


def test_the_local_provider_names_its_models(monkeypatch):
    from plugins.models import local_chat

    monkeypatch.setattr(local_chat, "chat_model_available", lambda name=None: False)
    ready = {m.name: m for m in LocalProvider().ready_models()}
    assert set(ready) == {"use-m3", "multilingual-e5-small", "all-minilm-l6-v2"}
    assert [m.name for m in ready.values() if m.default] == ["multilingual-e5-small"]
    assert ready["use-m3"].capabilities == {Capability.EMBEDDINGS}
    assert ready["all-minilm-l6-v2"].embedding_dimension == 384

    monkeypatch.setattr(local_chat, "chat_model_available", lambda name=None: True)
    chat = LocalProvider().ready_models()[-1]
    assert (chat.name, chat.context_window, chat.default) == ("smollm2-135m-instruct", 2048, True)
