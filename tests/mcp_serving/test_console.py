"""The console's switch for a workspace's MCP server: ``GET`` / ``PATCH /mcp-serving``."""

import pytest

from apps.accounts.services import create_api_key
from apps.mcp_serving.models import McpServing
from tests.console import ConsoleClient

pytestmark = pytest.mark.django_db


def test_off_until_an_admin_switches_it_on(alice):
    console = ConsoleClient().as_user(alice, "acme")
    assert console.get("/mcp-serving").json() == {"enabled": False, "path": "/mcp"}
    switched = console.patch("/mcp-serving", {"enabled": True})
    assert switched.status_code == 200, switched.content
    assert switched.json() == {"enabled": True, "path": "/mcp"}
    assert console.get("/mcp-serving").json()["enabled"] is True
    setting = McpServing.objects.get()
    assert (setting.created_by, setting.updated_by) == (alice, alice)
    assert console.patch("/mcp-serving", {"enabled": False}).json()["enabled"] is False


@pytest.mark.parametrize("who", ["developer", "viewer", "api_key"])
def test_only_admins_switch_it(who, acme, alice, charlie, vera):
    callers = {
        "developer": lambda: ConsoleClient().as_user(charlie, "acme"),
        "viewer": lambda: ConsoleClient().as_user(vera, "acme"),
        "api_key": lambda: ConsoleClient().with_key(
            create_api_key(acme, name="program", created_by=alice).plaintext
        ),
    }
    console = callers[who]()
    assert console.get("/mcp-serving").json() == {"enabled": False, "path": "/mcp"}
    refused = console.patch("/mcp-serving", {"enabled": True})
    assert refused.status_code == 403, refused.content
    assert refused.json()["code"] == "AccessDenied"
    assert not McpServing.objects.filter(enabled=True).exists()


def test_platform_admins_may_switch_it(acme, root):
    console = ConsoleClient().as_user(root, "acme")
    assert console.patch("/mcp-serving", {"enabled": True}).json()["enabled"] is True


def test_each_workspace_has_its_own_switch(alice, bob):
    ConsoleClient().as_user(alice, "acme").patch("/mcp-serving", {"enabled": True})
    globex = ConsoleClient().as_user(bob, "globex")
    assert globex.get("/mcp-serving").json()["enabled"] is False
    # Naming acme while being globex's member answers acme as not found.
    outsider = ConsoleClient().as_user(bob, "acme")
    assert outsider.patch("/mcp-serving", {"enabled": False}).status_code == 404
    assert ConsoleClient().as_user(alice, "acme").get("/mcp-serving").json()["enabled"] is True


def test_a_bad_body_is_a_400(alice):
    console = ConsoleClient().as_user(alice, "acme")
    assert console.patch("/mcp-serving", {"enabled": "perhaps"}).status_code in (400, 422)
