"""Listing a workspace's members, changing their role, removing them."""

import pytest

from apps.accounts.models import Membership, Role, User
from tests.console import ConsoleClient

pytestmark = pytest.mark.django_db


def admin_console(alice) -> ConsoleClient:
    return ConsoleClient().as_user(alice, "acme")


def test_members_are_listed_with_their_roles(alice, charlie, vera, bob):
    members = ConsoleClient().as_user(vera, "acme").get("/members").json()
    assert [(m["user"]["email"], m["role"]) for m in members] == [
        ("alice@example.com", "admin"),
        ("charlie@example.com", "developer"),
        ("vera@example.com", "viewer"),
    ]


def test_adding_a_member_directly_is_gone(alice, bob):
    """People join by invitation (tests/accounts/test_invitations.py); no one is added."""
    response = admin_console(alice).post("/members", {"email": bob.email, "role": "viewer"})
    assert response.status_code == 405
    assert not Membership.objects.filter(user=bob, workspace__slug="acme").exists()


def test_admin_changes_a_role(alice, charlie):
    membership = Membership.objects.get(user=charlie)
    response = admin_console(alice).patch(f"/members/{membership.id}", {"role": "viewer"})
    assert response.status_code == 200
    membership.refresh_from_db()
    assert membership.role == Role.VIEWER


def test_the_last_admin_cannot_be_demoted(alice):
    membership = Membership.objects.get(user=alice)
    response = admin_console(alice).patch(f"/members/{membership.id}", {"role": "developer"})
    assert response.status_code == 409
    assert response.json()["code"] == "LastAdmin"
    membership.refresh_from_db()
    assert membership.role == Role.ADMIN


def test_an_admin_can_step_down_when_another_admin_remains(alice, charlie):
    Membership.objects.filter(user=charlie).update(role=Role.ADMIN)
    membership = Membership.objects.get(user=alice)
    response = admin_console(alice).patch(f"/members/{membership.id}", {"role": "viewer"})
    assert response.status_code == 200


def test_admin_removes_a_member(alice, charlie):
    membership = Membership.objects.get(user=charlie)
    response = admin_console(alice).delete(f"/members/{membership.id}")
    assert response.status_code == 204
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert User.objects.filter(pk=charlie.pk).exists()  # the account stays
    assert ConsoleClient().as_user(charlie, "acme").get("/members").status_code == 404


def test_the_last_admin_cannot_be_removed(alice):
    membership = Membership.objects.get(user=alice)
    response = admin_console(alice).delete(f"/members/{membership.id}")
    assert response.status_code == 409
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_a_malformed_member_id_is_a_404(alice):
    assert admin_console(alice).delete("/members/not-a-uuid").status_code == 404
