"""Creating, listing and renaming workspaces; resolving X-Workspace."""

import pytest

from apps.accounts.models import Membership, Role, Workspace
from tests.console import ConsoleClient

pytestmark = pytest.mark.django_db


def test_members_list_only_their_workspaces(alice, bob):
    slugs = [w["slug"] for w in ConsoleClient().as_user(alice).get("/workspaces").json()]
    assert slugs == ["acme"]


def test_platform_admin_creates_a_workspace_and_becomes_its_admin(root):
    response = ConsoleClient().as_user(root).post("/workspaces", {"name": "Initech Labs"})
    assert response.status_code == 201
    body = response.json()
    assert body["slug"] == "initech-labs"
    workspace = Workspace.objects.get(slug="initech-labs")
    assert Membership.objects.get(workspace=workspace, user=root).role == Role.ADMIN


def test_an_explicit_slug_is_kept(root):
    response = ConsoleClient().as_user(root).post("/workspaces", {"name": "X", "slug": "x-1"})
    assert response.status_code == 201
    assert response.json()["slug"] == "x-1"


def test_a_duplicate_slug_is_a_conflict(root, acme):
    response = ConsoleClient().as_user(root).post("/workspaces", {"name": "Acme", "slug": "acme"})
    assert response.status_code == 409
    assert response.json()["code"] == "Conflict"
    assert Workspace.objects.filter(slug="acme").count() == 1


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "Bad", "slug": "Has Spaces"},
        {"name": "Bad", "slug": "-leading"},
        {"name": "   "},
        {"name": "x" * 101},
        {"slug": "no-name"},
        {"name": "!!!"},  # nothing to derive a slug from
    ],
)
def test_bad_workspace_input_is_a_400(root, payload):
    response = ConsoleClient().as_user(root).post("/workspaces", payload)
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParameter"
    assert Workspace.objects.count() == 0


def test_only_platform_admins_create_workspaces(alice):
    response = ConsoleClient().as_user(alice).post("/workspaces", {"name": "Mine"})
    assert response.status_code == 403
    assert response.json()["code"] == "AccessDenied"


def test_admin_renames_the_workspace_but_not_its_slug(alice, acme):
    response = ConsoleClient().as_user(alice, "acme").patch("/workspace", {"name": "Acme Corp"})
    assert response.status_code == 200
    assert response.json()["name"] == "Acme Corp"
    acme.refresh_from_db()
    assert (acme.name, acme.slug) == ("Acme Corp", "acme")


def test_the_current_workspace_comes_from_the_header(charlie):
    body = ConsoleClient().as_user(charlie, "acme").get("/workspace").json()
    assert (body["slug"], body["role"]) == ("acme", "developer")


def test_a_missing_workspace_header_is_a_400(alice):
    response = ConsoleClient().as_user(alice).get("/members")
    assert response.status_code == 400
    assert "X-Workspace" in response.json()["message"]


def test_an_unknown_workspace_is_a_404(alice):
    response = ConsoleClient().as_user(alice, "nowhere").get("/members")
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound"
