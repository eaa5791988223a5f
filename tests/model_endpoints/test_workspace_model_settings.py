"""A workspace's own settings of the models granted to it: the response cache, set by its
admins on ``PATCH /console/api/models/{name}/settings``."""

import pytest

from apps.model_endpoints import services as endpoints
from apps.model_endpoints.models import MAX_RESPONSE_CACHE_SECONDS, EndpointGrant, ModelEndpoint
from apps.plugins.services import sync_plugins
from tests.console import ConsoleClient
from tests.tenancy import assert_foreign_object_is_not_found

pytestmark = pytest.mark.django_db


@pytest.fixture
def models(db, acme):
    """acme is granted qwen-plus and a model whose name holds a slash."""
    sync_plugins()
    for name in ("qwen-plus", "Qwen/Qwen3-8B"):
        endpoint = endpoints.create_endpoint(
            name=name,
            provider="openai",
            upstream_model="up",
            capabilities=["chat"],
            settings={"base_url": "http://127.0.0.1:9/v1", "api_key": "sk-up"},
        )
        endpoints.grant(endpoint, acme, by=None)


def cache_seconds(workspace, model: str) -> int:
    grant = EndpointGrant.objects.get(workspace=workspace, endpoint__name=model)
    return grant.response_cache_seconds


def test_an_admin_turns_the_response_cache_on_and_off(models, alice, acme):
    console = ConsoleClient().as_user(alice, "acme")
    assert {m["response_cache_seconds"] for m in console.get("/models").json()} == {0}

    changed = console.patch("/models/qwen-plus/settings", {"response_cache_seconds": 3600})
    assert changed.status_code == 200
    assert changed.json()["name"] == "qwen-plus"
    assert changed.json()["response_cache_seconds"] == 3600
    listed = {m["name"]: m["response_cache_seconds"] for m in console.get("/models").json()}
    assert listed == {"qwen-plus": 3600, "Qwen/Qwen3-8B": 0}

    slashed = console.patch("/models/Qwen/Qwen3-8B/settings", {"response_cache_seconds": 60})
    assert slashed.status_code == 200
    assert cache_seconds(acme, "Qwen/Qwen3-8B") == 60

    console.patch("/models/qwen-plus/settings", {"response_cache_seconds": 0})
    assert cache_seconds(acme, "qwen-plus") == 0


@pytest.mark.parametrize("seconds", [-1, MAX_RESPONSE_CACHE_SECONDS + 1, "soon", None])
def test_a_bad_duration_is_refused(models, alice, acme, seconds):
    response = (
        ConsoleClient()
        .as_user(alice, "acme")
        .patch("/models/qwen-plus/settings", {"response_cache_seconds": seconds})
    )
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParameter"
    assert "response_cache_seconds" in response.json()["message"]
    assert cache_seconds(acme, "qwen-plus") == 0


def test_only_admins_change_it(models, charlie, vera, acme):
    for member in (charlie, vera):
        response = (
            ConsoleClient()
            .as_user(member, "acme")
            .patch("/models/qwen-plus/settings", {"response_cache_seconds": 60})
        )
        assert response.status_code == 403
    assert cache_seconds(acme, "qwen-plus") == 0


def test_a_model_not_granted_or_disabled_is_not_found(models, alice, acme):
    console = ConsoleClient().as_user(alice, "acme")
    unknown = console.patch("/models/gpt-9/settings", {"response_cache_seconds": 60})
    assert unknown.status_code == 404
    ModelEndpoint.objects.filter(name="qwen-plus").update(enabled=False)
    response = console.patch("/models/qwen-plus/settings", {"response_cache_seconds": 60})
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound"


def test_another_workspace_cannot_set_it(models, bob, globex, acme):
    assert_foreign_object_is_not_found(
        method="PATCH",
        path="/models/qwen-plus/settings",
        json={"response_cache_seconds": 60},
        outsider=bob,
        outsider_workspace=globex,
        owner_workspace=acme,
        snapshot=lambda: cache_seconds(acme, "qwen-plus"),
    )
