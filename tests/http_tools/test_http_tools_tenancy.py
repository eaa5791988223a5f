"""Another workspace's HTTP tools answer 404 on every endpoint, and nothing of theirs
changes or leaks."""

import pytest

from apps.http_tools.models import HttpTool
from tests.console import ConsoleClient
from tests.http_tools.conftest import create_tool
from tests.tenancy import assert_foreign_object_is_not_found

pytestmark = pytest.mark.django_db


def snapshot():
    return list(
        HttpTool.objects.order_by("pk").values_list(
            "id", "workspace_id", "name", "description", "url", "auth_type", "encrypted_secret"
        )
    )


def test_every_http_tool_endpoint_hides_other_workspaces(acme_console, acme, globex, bob):
    tool = create_tool(
        acme_console,
        url="https://api.example.com/weather",
        auth={"type": "bearer", "secret": "tok-ACME-ONLY"},
    )
    path = f"/http-tools/{tool['id']}"
    for method, target, body in [
        ("GET", path, None),
        ("PATCH", path, {"name": "taken_over", "auth": {"type": "none"}}),
        ("DELETE", path, None),
        ("POST", f"{path}/invoke", {"arguments": {}}),
    ]:
        assert_foreign_object_is_not_found(
            method=method,
            path=target,
            json=body,
            outsider=bob,
            outsider_workspace=globex,
            owner_workspace=acme,
            snapshot=snapshot,
            secret_values=("tok-ACME-ONLY", "api.example.com"),
        )


def test_lists_and_names_are_per_workspace(acme_console, bob):
    create_tool(acme_console, name="shared_name")
    globex = ConsoleClient().as_user(bob, "globex")
    assert globex.get("/http-tools").json() == []
    # The same name in another workspace is no clash.
    assert (
        globex.post(
            "/http-tools", {"name": "shared_name", "url": "https://x.example.com/"}
        ).status_code
        == 201
    )
    assert [t["name"] for t in globex.get("/http-tools").json()] == ["shared_name"]
    assert HttpTool.objects.count() == 2


def test_an_import_lands_in_the_callers_workspace_only(acme_console, bob, acme, globex):
    from tests.http_tools.test_openapi_import import petstore

    create_tool(acme_console, name="listPets")
    globex_console = ConsoleClient().as_user(bob, "globex")
    response = globex_console.post("/http-tools/import-openapi", {"document": petstore()})
    assert response.status_code == 201  # acme's listPets is not globex's clash
    assert HttpTool.objects.filter(workspace=globex).count() == 3
    assert HttpTool.objects.filter(workspace=acme).count() == 1


def test_an_api_key_of_another_workspace_gets_404(acme_console, globex):
    from apps.accounts.services import create_api_key

    tool = create_tool(acme_console)
    key = create_api_key(globex, name="ci", created_by=None).plaintext
    globex_key = ConsoleClient().with_key(key)
    assert globex_key.get("/http-tools").json() == []
    for method, target, body in [
        ("GET", f"/http-tools/{tool['id']}", None),
        ("PATCH", f"/http-tools/{tool['id']}", {"description": "x"}),
        ("DELETE", f"/http-tools/{tool['id']}", None),
        ("POST", f"/http-tools/{tool['id']}/invoke", {"arguments": {}}),
    ]:
        assert globex_key.request(method, target, body).status_code == 404
    assert HttpTool.objects.get().description == ""
