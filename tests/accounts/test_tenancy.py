"""Every endpoint that takes an object id answers 404 for another workspace's objects.

bob (admin of globex) aims at acme's objects; whether he names his own workspace or
acme's in X-Workspace, he gets 404, no data, and nothing changes.
"""

import pytest
from django.forms.models import model_to_dict

from apps.accounts.models import ApiKey, Invitation, Membership, Workspace
from apps.accounts.services import create_api_key
from tests.tenancy import assert_foreign_object_is_not_found

pytestmark = pytest.mark.django_db


def snapshot_of(queryset):
    return lambda: [model_to_dict(row) for row in queryset.order_by("pk")]


@pytest.fixture
def acme_key(acme, alice) -> ApiKey:
    return create_api_key(acme, name="acme-ci", created_by=alice).api_key


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/members/{member}", {"role": "viewer"}),
        ("DELETE", "/members/{member}", None),
        ("POST", "/api-keys/{api_key}/revoke", None),
    ],
)
def test_object_endpoints_hide_other_workspaces(
    method, path, body, acme, alice, bob, globex, acme_key
):
    alices_membership = Membership.objects.get(user=alice)
    assert_foreign_object_is_not_found(
        method=method,
        path=path.format(member=alices_membership.id, api_key=acme_key.id),
        json=body,
        outsider=bob,
        outsider_workspace=globex,
        owner_workspace=acme,
        snapshot=snapshot_of(Membership.objects.filter(workspace=acme))
        if "member" in path
        else snapshot_of(ApiKey.objects.filter(workspace=acme)),
        secret_values=(alice.email, acme_key.prefix),
    )


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/workspace", None),
        ("PATCH", "/workspace", {"name": "Pwned"}),
        ("GET", "/members", None),
        ("GET", "/invitations", None),
        ("POST", "/invitations", {"email": "bob@example.com", "role": "admin"}),
        ("GET", "/api-keys", None),
        ("POST", "/api-keys", {"name": "stolen"}),
    ],
)
def test_workspace_endpoints_hide_other_workspaces(method, path, body, acme, alice, bob, acme_key):
    """Naming acme in X-Workspace gets bob nothing from the workspace-wide endpoints."""
    from tests.console import ConsoleClient

    before = (
        model_to_dict(Workspace.objects.get(pk=acme.pk)),
        Membership.objects.filter(workspace=acme).count(),
        ApiKey.objects.filter(workspace=acme).count(),
        Invitation.objects.filter(workspace=acme).count(),
    )
    response = ConsoleClient().as_user(bob, "acme").request(method, path, body)
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound"
    assert alice.email not in response.content.decode()
    after = (
        model_to_dict(Workspace.objects.get(pk=acme.pk)),
        Membership.objects.filter(workspace=acme).count(),
        ApiKey.objects.filter(workspace=acme).count(),
        Invitation.objects.filter(workspace=acme).count(),
    )
    assert after == before


def test_the_workspace_list_shows_no_foreign_workspace(bob, acme):
    from tests.console import ConsoleClient

    slugs = [w["slug"] for w in ConsoleClient().as_user(bob).get("/workspaces").json()]
    assert slugs == ["globex"]


def test_the_scoped_query_helper_never_crosses_workspaces(acme, globex, alice, bob):
    from apps.accounts.tenancy import get_in_workspace
    from kernel.errors import NotFound

    alices = Membership.objects.get(user=alice)
    assert get_in_workspace(Membership, acme, pk=alices.pk) == alices
    with pytest.raises(NotFound):
        get_in_workspace(Membership, globex, pk=alices.pk)
    assert list(Membership.objects.in_workspace(globex)) == [Membership.objects.get(user=bob)]
