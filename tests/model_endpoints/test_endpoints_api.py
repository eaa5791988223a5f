"""Model endpoints: registered and tested by platform admins, granted to workspaces."""

import pytest

from apps.model_endpoints.models import EndpointGrant, ModelEndpoint
from apps.plugins.services import sync_plugins
from tests.console import ConsoleClient
from tests.upstream import error, slow, vectors

pytestmark = pytest.mark.django_db

UPSTREAM_KEY = "sk-upstream-secret-7f3a"


@pytest.fixture(autouse=True)
def _providers(db):
    sync_plugins()


def chat_endpoint(upstream, **overrides) -> dict:
    return {
        "name": "qwen-plus",
        "provider": "openai",
        "upstream_model": "qwen-plus-upstream",
        "capabilities": ["chat"],
        "settings": {
            "base_url": upstream.openai_base_url,
            "api_key": UPSTREAM_KEY,
            "max_retries": 0,
            "timeout_seconds": 2,
        },
        "context_window": 32768,
        "price_input_per_1k": "0.0008",
        "price_output_per_1k": "0.002",
        **overrides,
    }


def admin(root) -> ConsoleClient:
    return ConsoleClient().as_user(root)


def test_native_tool_calling_is_a_capability(root, upstream):
    body = chat_endpoint(upstream, capabilities=["tool_calls", "chat"])
    response = admin(root).post("/model-endpoints", body)
    assert response.status_code == 201, response.content
    assert response.json()["capabilities"] == ["chat", "tool_calls"]


def test_a_platform_admin_registers_an_endpoint_with_its_key_encrypted(root, upstream):
    response = admin(root).post("/model-endpoints", chat_endpoint(upstream))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["settings"]["api_key"] == "***"
    assert body["settings"]["base_url"] == upstream.openai_base_url
    assert (body["name"], body["provider"], body["capabilities"]) == (
        "qwen-plus",
        "openai",
        ["chat"],
    )
    assert UPSTREAM_KEY not in response.content.decode()
    stored = ModelEndpoint.objects.get()
    assert UPSTREAM_KEY not in str(stored.settings) + stored.encrypted_secrets
    listed = admin(root).get("/model-endpoints")
    assert UPSTREAM_KEY not in listed.content.decode()


def test_the_connection_test_makes_one_real_call(root, upstream):
    created = admin(root).post("/model-endpoints", chat_endpoint(upstream)).json()
    result = admin(root).post(f"/model-endpoints/{created['id']}/test").json()
    assert result["ok"] is True, result
    assert result["capability"] == "chat"
    assert result["latency_ms"] >= 0
    [call] = upstream.requests_for("chat")
    assert call.body["model"] == "qwen-plus-upstream"
    assert call.header("Authorization") == f"Bearer {UPSTREAM_KEY}"


def test_the_connection_test_reports_the_upstreams_error_without_the_key(root, upstream):
    created = admin(root).post("/model-endpoints", chat_endpoint(upstream)).json()
    upstream.script("chat", error(401, f"Incorrect API key provided: {UPSTREAM_KEY}"))
    result = admin(root).post(f"/model-endpoints/{created['id']}/test").json()
    assert result["ok"] is False
    assert "401" in result["detail"] or "uthentication" in result["detail"]
    assert UPSTREAM_KEY not in result["detail"]


def test_a_slow_upstream_is_reported_as_a_timeout(root, upstream):
    created = admin(root).post("/model-endpoints", chat_endpoint(upstream)).json()
    upstream.script("chat", slow(3))
    result = admin(root).post(f"/model-endpoints/{created['id']}/test").json()
    assert result["ok"] is False
    assert "time" in result["detail"].lower()


def test_an_embedding_endpoint_checks_its_dimension(root, upstream):
    payload = chat_endpoint(
        upstream, name="embed-v3", capabilities=["embedding"], embedding_dimension=4
    )
    created = admin(root).post("/model-endpoints", payload).json()
    upstream.script("embeddings", vectors([[0.1, 0.2, 0.3, 0.4]]), vectors([[0.1, 0.2]]))
    good = admin(root).post(f"/model-endpoints/{created['id']}/test").json()
    assert (good["ok"], good["detail"]) == (True, "embedding answered (4 dimensions)")
    bad = admin(root).post(f"/model-endpoints/{created['id']}/test").json()
    assert bad["ok"] is False
    assert "2-d vectors, not 4-d" in bad["detail"]


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"provider": "nope"}, "provider"),
        ({"provider": "local", "settings": {}, "capabilities": ["rerank"]}, "capabilities"),
        ({"capabilities": []}, "capabilities"),
        ({"settings": {"base_url": "x", "timeout_seconds": 0}}, "settings.timeout_seconds"),
        ({"settings": {"colour": "red"}}, "settings.colour"),
        ({"name": "has space"}, "name"),
        ({"price_input_per_1k": "-1"}, "price_input_per_1k"),
        ({"capabilities": ["tool_calls"]}, "tool_calls is a kind of chat"),
        (
            {"provider": "local", "settings": {}, "capabilities": ["chat", "tool_calls"]},
            "tool_calls",
        ),
    ],
)
def test_bad_endpoint_input_is_a_400_naming_the_field(root, upstream, overrides, named):
    response = admin(root).post("/model-endpoints", chat_endpoint(upstream, **overrides))
    assert response.status_code == 400, response.content
    assert named in response.json()["message"]
    assert not ModelEndpoint.objects.exists()


def test_a_duplicate_name_is_a_conflict(root, upstream):
    admin(root).post("/model-endpoints", chat_endpoint(upstream))
    response = admin(root).post("/model-endpoints", chat_endpoint(upstream))
    assert response.status_code == 409


def test_editing_keeps_the_key_when_sent_back_masked(root, upstream):
    created = admin(root).post("/model-endpoints", chat_endpoint(upstream)).json()
    settings = {**created["settings"], "timeout_seconds": 5}
    response = admin(root).patch(
        f"/model-endpoints/{created['id']}", {"settings": settings, "display_name": "Qwen Plus"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["settings"]["timeout_seconds"] == 5
    admin(root).post(f"/model-endpoints/{created['id']}/test")
    assert upstream.requests_for("chat")[-1].header("Authorization") == f"Bearer {UPSTREAM_KEY}"


def test_grants_decide_what_a_workspace_sees(root, upstream, alice, bob, acme):
    created = admin(root).post("/model-endpoints", chat_endpoint(upstream)).json()
    granted = admin(root).post(f"/model-endpoints/{created['id']}/grants", {"workspace": "acme"})
    assert granted.status_code == 201
    assert granted.json()["workspaces"] == ["acme"]

    acme_models = ConsoleClient().as_user(alice, "acme").get("/models").json()
    assert [m["name"] for m in acme_models] == ["qwen-plus"]
    assert "settings" not in acme_models[0] and "provider" not in acme_models[0]
    assert ConsoleClient().as_user(bob, "globex").get("/models").json() == []

    admin(root).patch(f"/model-endpoints/{created['id']}", {"enabled": False})
    assert ConsoleClient().as_user(alice, "acme").get("/models").json() == []

    revoked = admin(root).delete(f"/model-endpoints/{created['id']}/grants/acme")
    assert revoked.status_code == 204
    assert not EndpointGrant.objects.exists()
    again = admin(root).delete(f"/model-endpoints/{created['id']}/grants/acme")
    assert again.status_code == 404


def test_granting_to_an_unknown_workspace_is_a_404(root, upstream):
    created = admin(root).post("/model-endpoints", chat_endpoint(upstream)).json()
    response = admin(root).post(
        f"/model-endpoints/{created['id']}/grants", {"workspace": "nowhere"}
    )
    assert response.status_code == 404


def test_deleting_an_endpoint_removes_its_grants(root, upstream, acme):
    created = admin(root).post("/model-endpoints", chat_endpoint(upstream)).json()
    admin(root).post(f"/model-endpoints/{created['id']}/grants", {"workspace": "acme"})
    assert admin(root).delete(f"/model-endpoints/{created['id']}").status_code == 204
    assert not ModelEndpoint.objects.exists() and not EndpointGrant.objects.exists()
    assert admin(root).get(f"/model-endpoints/{created['id']}").status_code == 404
    assert admin(root).get("/model-endpoints/not-a-uuid").status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/model-endpoints"),
        ("POST", "/model-endpoints"),
        ("GET", "/model-endpoints/{id}"),
        ("PATCH", "/model-endpoints/{id}"),
        ("DELETE", "/model-endpoints/{id}"),
        ("POST", "/model-endpoints/{id}/test"),
        ("POST", "/model-endpoints/{id}/grants"),
        ("DELETE", "/model-endpoints/{id}/grants/acme"),
    ],
)
def test_only_platform_admins_manage_endpoints(root, alice, acme, upstream, method, path):
    from apps.accounts.services import create_api_key

    created = admin(root).post("/model-endpoints", chat_endpoint(upstream)).json()
    admin(root).post(f"/model-endpoints/{created['id']}/grants", {"workspace": "acme"})
    bodies = {
        ("POST", "/model-endpoints"): chat_endpoint(upstream, name="sneaky"),
        ("PATCH", "/model-endpoints/{id}"): {"enabled": False},
        ("POST", "/model-endpoints/{id}/grants"): {"workspace": "acme"},
    }
    key = create_api_key(acme, name="k", created_by=alice).plaintext
    for console in (ConsoleClient().as_user(alice, "acme"), ConsoleClient().with_key(key)):
        response = console.request(
            method, path.format(id=created["id"]), bodies.get((method, path))
        )
        assert response.status_code == 403, response.content
        assert response.json()["code"] == "AccessDenied"
    assert ModelEndpoint.objects.count() == 1
    assert EndpointGrant.objects.count() == 1


def test_another_workspace_never_sees_a_grant(root, upstream, alice, bob):
    created = admin(root).post("/model-endpoints", chat_endpoint(upstream)).json()
    admin(root).post(f"/model-endpoints/{created['id']}/grants", {"workspace": "acme"})
    response = ConsoleClient().as_user(bob, "acme").get("/models")
    assert response.status_code == 404
    assert "qwen-plus" not in response.content.decode()
