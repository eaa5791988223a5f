"""The Django admin works for platform admins before the console exists."""

import pytest

from apps.accounts.models import ApiKey, Invitation, Membership, Role, User
from apps.accounts.services import create_api_key, invite_member

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("path", "shows", "hides"),
    [
        ("/admin/accounts/user/?q=alice", "alice@example.com", "bob@example.com"),
        ("/admin/accounts/workspace/?q=acme", "Acme", "Globex"),
        ("/admin/accounts/membership/?q=acme&role__exact=admin", "alice@example.com", "bob@"),
        ("/admin/accounts/apikey/?q=acme&revoked_at__isempty=1", "acme-ci", "globex-ci"),
    ],
)
def test_changelists_search_and_filter(client, root, alice, bob, acme, globex, path, shows, hides):
    create_api_key(acme, name="acme-ci", created_by=alice)
    create_api_key(globex, name="globex-ci", created_by=bob)
    client.force_login(root)
    response = client.get(path)
    assert response.status_code == 200
    assert shows in response.content.decode()
    assert hides not in response.content.decode()


def test_a_platform_admin_adds_a_user(client, root):
    client.force_login(root)
    response = client.post(
        "/admin/accounts/user/add/",
        {
            "email": "New@Example.com",
            "name": "New",
            "password1": "x7!Qm2#pLw9",
            "password2": "x7!Qm2#pLw9",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert User.objects.get(email="new@example.com").check_password("x7!Qm2#pLw9")


def test_workspace_page_shows_its_members_inline(client, root, alice, acme):
    client.force_login(root)
    response = client.get(f"/admin/accounts/workspace/{acme.pk}/change/")
    assert response.status_code == 200
    assert b"alice@example.com" in response.content


def test_keys_cannot_be_added_in_the_admin_but_can_be_revoked(client, root, alice, acme):
    created = create_api_key(acme, name="ci", created_by=alice)
    client.force_login(root)
    assert client.get("/admin/accounts/apikey/add/").status_code == 403
    page = client.get(f"/admin/accounts/apikey/{created.api_key.pk}/change/")
    assert created.plaintext.encode() not in page.content
    assert created.api_key.secret_hash.encode() not in page.content
    response = client.post(
        "/admin/accounts/apikey/",
        {"action": "revoke", "_selected_action": [str(created.api_key.pk)]},
    )
    assert response.status_code == 302
    assert ApiKey.objects.get().revoked_at is not None


def test_invitations_are_listed_without_their_token_and_can_be_revoked(client, root, acme):
    created = invite_member(
        acme, email="dora@example.com", role=Role.VIEWER, invited_by=root, console_url="/"
    )
    token = created.accept_url.split("#", 1)[1]
    client.force_login(root)
    assert client.get("/admin/accounts/invitation/add/").status_code == 403
    listed = client.get("/admin/accounts/invitation/?q=dora").content.decode()
    assert "dora@example.com" in listed
    page = client.get(f"/admin/accounts/invitation/{created.invitation.pk}/change/")
    assert page.status_code == 200
    for secret in (token, created.invitation.token_hash):
        assert secret not in page.content.decode() and secret not in listed
    response = client.post(
        "/admin/accounts/invitation/",
        {"action": "revoke", "_selected_action": [str(created.invitation.pk)]},
    )
    assert response.status_code == 302
    assert Invitation.objects.get().status == "revoked"


def test_members_cannot_open_the_admin(client, alice):
    client.force_login(alice)
    response = client.get("/admin/accounts/membership/")
    assert response.status_code == 302
    assert Membership.objects.count() == 1


def test_the_plugin_registry_is_browsable_and_read_only(client, root, alice, acme):
    from apps.plugins.selectors import plugin_in_workspace
    from apps.plugins.services import configure_plugin, sync_plugins

    sync_plugins()
    configure_plugin(acme, plugin_in_workspace(acme, "tool", "calculator"), enabled=False)
    client.force_login(root)
    plugins = client.get("/admin/registry/plugin/?q=calc&status__exact=loaded")
    assert plugins.status_code == 200
    assert "calculator" in plugins.content.decode()
    choices = client.get("/admin/registry/workspaceplugin/?enabled__exact=0")
    assert "acme" in choices.content.decode()
    assert client.get("/admin/registry/plugin/add/").status_code == 403
