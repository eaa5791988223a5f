"""Model groups on the console API: defined, changed and granted by platform admins,
refused when they would not make one model, listed to the workspaces granted them."""

import pytest

from apps.accounts.services import create_api_key
from apps.model_endpoints import services as endpoints
from apps.model_endpoints.models import ModelGroup, ModelGroupGrant
from apps.plugins.services import sync_plugins
from tests.console import ConsoleClient

pytestmark = pytest.mark.django_db

SETTINGS = {"base_url": "http://127.0.0.1:9/v1", "api_key": "sk-up"}


@pytest.fixture
def models(db):
    sync_plugins()
    for name, context in (("chat-a", 32768), ("chat-b", 8192)):
        endpoints.create_endpoint(
            name=name,
            provider="openai",
            upstream_model=name,
            capabilities=["chat", "tool_calls"] if name == "chat-a" else ["chat"],
            settings=SETTINGS,
            context_window=context,
            price_input_per_1k="0.001" if name == "chat-a" else "0.002",
        )
    for name, dimension in (("embed-a", 64), ("embed-b", 128)):
        endpoints.create_endpoint(
            name=name,
            provider="openai",
            upstream_model=name,
            capabilities=["embedding"],
            settings=SETTINGS,
            embedding_dimension=dimension,
        )


def admin(root) -> ConsoleClient:
    return ConsoleClient().as_user(root)


def group_body(**overrides) -> dict:
    return {
        "name": "qwen-group",
        "balancing": "weighted",
        "members": [{"endpoint": "chat-a", "weight": 3}, {"endpoint": "chat-b"}],
        **overrides,
    }


def test_a_platform_admin_defines_changes_grants_and_deletes_a_group(models, root, alice, acme):
    created = admin(root).post("/model-groups", group_body())
    assert created.status_code == 201, created.content
    group = created.json()
    assert group["capabilities"] == ["chat"]
    assert [(m["endpoint"], m["weight"], m["state"]) for m in group["members"]] == [
        ("chat-a", 3, "healthy"),
        ("chat-b", 1, "healthy"),
    ]
    assert group["workspaces"] == []

    changed = admin(root).patch(
        f"/model-groups/{group['id']}",
        {"balancing": "least_busy", "members": [{"endpoint": "chat-b", "weight": 2}]},
    )
    assert changed.status_code == 200
    assert changed.json()["balancing"] == "least_busy"
    assert [m["endpoint"] for m in changed.json()["members"]] == ["chat-b"]

    granted = admin(root).post(f"/model-groups/{group['id']}/grants", {"workspace": "acme"})
    assert granted.json()["workspaces"] == ["acme"]
    listed = ConsoleClient().as_user(alice, "acme").get("/models").json()
    [as_model] = [m for m in listed if m["name"] == "qwen-group"]
    assert as_model["kind"] == "group"
    assert as_model["capabilities"] == ["chat"]
    assert as_model["context_window"] == 8192

    revoked = admin(root).delete(f"/model-groups/{group['id']}/grants/acme")
    assert revoked.status_code == 204
    assert not ModelGroupGrant.objects.exists()
    assert admin(root).delete(f"/model-groups/{group['id']}/grants/acme").status_code == 404
    assert admin(root).delete(f"/model-groups/{group['id']}").status_code == 204
    assert not ModelGroup.objects.exists()
    assert admin(root).get(f"/model-groups/{group['id']}").status_code == 404


def test_a_workspace_lists_only_enabled_groups_granted_to_it(models, root, alice, bob, acme):
    group = admin(root).post("/model-groups", group_body()).json()
    admin(root).post(f"/model-groups/{group['id']}/grants", {"workspace": "acme"})
    as_model = next(
        m
        for m in ConsoleClient().as_user(alice, "acme").get("/models").json()
        if m["name"] == "qwen-group"
    )
    assert (as_model["price_input_per_1k"], as_model["context_window"]) == ("0.002000", 8192)
    assert ConsoleClient().as_user(bob, "globex").get("/models").json() == []
    admin(root).patch(f"/model-groups/{group['id']}", {"enabled": False})
    names = [m["name"] for m in ConsoleClient().as_user(alice, "acme").get("/models").json()]
    assert "qwen-group" not in names


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (group_body(name="chat-a"), 409, "endpoint"),
        (group_body(members=[{"endpoint": "nope"}]), 400, "nope"),
        (group_body(members=[{"endpoint": "chat-a"}, {"endpoint": "chat-a"}]), 400, "once"),
        (group_body(members=[{"endpoint": "chat-a"}, {"endpoint": "embed-a"}]), 400, "share"),
        (group_body(members=[{"endpoint": "embed-a"}, {"endpoint": "embed-b"}]), 400, "dimension"),
        (group_body(members=[]), 400, "members"),
        (group_body(members=[{"endpoint": "chat-a", "weight": 0}]), 400, "weight"),
        (group_body(balancing="round_robin"), 400, "balancing"),
        (group_body(cooldown_seconds=0), 400, "cooldown_seconds"),
        (group_body(name="bad name"), 400, "name"),
    ],
    ids=[
        "endpoint-name",
        "unknown-member",
        "twice",
        "no-shared-capability",
        "dimensions",
        "no-members",
        "weight",
        "balancing",
        "cooldown",
        "name",
    ],
)
def test_a_group_that_would_not_make_one_model_is_refused(models, root, body, status, says):
    response = admin(root).post("/model-groups", body)
    assert response.status_code == status, response.content
    assert says in response.json()["message"]
    assert not ModelGroup.objects.exists()


def test_names_are_one_namespace(models, root):
    admin(root).post("/model-groups", group_body())
    assert admin(root).post("/model-groups", group_body()).status_code == 409
    endpoint = {
        "name": "qwen-group",
        "provider": "openai",
        "upstream_model": "x",
        "capabilities": ["chat"],
        "settings": SETTINGS,
    }
    refused = admin(root).post("/model-endpoints", endpoint)
    assert refused.status_code == 409
    assert "group" in refused.json()["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/model-groups"),
        ("POST", "/model-groups"),
        ("GET", "/model-groups/{id}"),
        ("PATCH", "/model-groups/{id}"),
        ("DELETE", "/model-groups/{id}"),
        ("POST", "/model-groups/{id}/grants"),
        ("DELETE", "/model-groups/{id}/grants/acme"),
    ],
)
def test_only_platform_admins_manage_groups(models, root, alice, acme, method, path):
    group = admin(root).post("/model-groups", group_body()).json()
    admin(root).post(f"/model-groups/{group['id']}/grants", {"workspace": "acme"})
    bodies = {
        ("POST", "/model-groups"): group_body(name="sneaky"),
        ("PATCH", "/model-groups/{id}"): {"enabled": False},
        ("POST", "/model-groups/{id}/grants"): {"workspace": "acme"},
    }
    key = create_api_key(acme, name="k", created_by=alice).plaintext
    for console in (ConsoleClient().as_user(alice, "acme"), ConsoleClient().with_key(key)):
        response = console.request(method, path.format(id=group["id"]), bodies.get((method, path)))
        assert response.status_code == 403, response.content
        assert response.json()["code"] == "AccessDenied"
    assert list(ModelGroup.objects.values_list("name", "enabled")) == [("qwen-group", True)]
    assert ModelGroupGrant.objects.count() == 1


def test_a_workspace_admin_sets_the_cache_of_a_granted_group(models, root, alice, bob, acme):
    group = admin(root).post("/model-groups", group_body()).json()
    admin(root).post(f"/model-groups/{group['id']}/grants", {"workspace": "acme"})
    changed = (
        ConsoleClient()
        .as_user(alice, "acme")
        .patch("/models/qwen-group/settings", {"response_cache_seconds": 300})
    )
    assert changed.status_code == 200
    assert (changed.json()["kind"], changed.json()["response_cache_seconds"]) == ("group", 300)
    other = (
        ConsoleClient()
        .as_user(bob, "globex")
        .patch("/models/qwen-group/settings", {"response_cache_seconds": 300})
    )
    assert other.status_code == 404
