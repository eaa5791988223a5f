"""People join a workspace by invitation: an admin invites an e-mail address with a role,
the invitee accepts through the link (signed in, or creating their account on the way).

The invitation's answer never tells the admin whether the address has an account.
"""

import logging
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from apps.accounts import keys
from apps.accounts.models import Invitation, Membership, Role, User
from apps.accounts.services import create_api_key
from tests.conftest import PASSWORD
from tests.console import ConsoleClient
from tests.tenancy import assert_foreign_object_is_not_found

pytestmark = pytest.mark.django_db


def admin_console(alice) -> ConsoleClient:
    return ConsoleClient().as_user(alice, "acme")


def invite(alice, email: str = "dora@example.com", role: str = "developer") -> dict:
    response = admin_console(alice).post("/invitations", {"email": email, "role": role})
    assert response.status_code == 201, response.content
    return response.json()


def token_of(created: dict) -> str:
    url = created["accept_url"]
    assert url.startswith("http://testserver/invitations/accept#")
    return url.split("#", 1)[1]


# --- inviting ---------------------------------------------------------------------------------


def test_an_invitation_answers_with_the_link_once(alice):
    created = invite(alice, "Dora@Example.com", "viewer")
    assert created["email"] == "dora@example.com"
    assert (created["role"], created["status"]) == ("viewer", "pending")
    assert created["invited_by"] == alice.email
    assert created["email_sent"] is False
    token = token_of(created)
    stored = Invitation.objects.get(pk=created["id"])
    assert stored.token_hash == keys.hash_key(token)
    assert token not in str(vars(stored))
    listed = admin_console(alice).get("/invitations")
    assert listed.status_code == 200
    [row] = listed.json()
    assert row["id"] == created["id"] and row["status"] == "pending"
    assert "accept_url" not in row
    assert token not in listed.content.decode()


def test_the_lifetime_comes_from_the_setting(alice, settings):
    settings.INVITATION_LIFETIME_DAYS = 3
    before = timezone.now()
    created = invite(alice)
    expires = Invitation.objects.get(pk=created["id"]).expires_at
    assert before + timedelta(days=3) <= expires <= timezone.now() + timedelta(days=3)


def test_the_answer_does_not_tell_whether_the_address_has_an_account(alice, bob):
    """bob has an account (in globex); dora has none: the two answers differ only in
    what the admin typed and what is random."""
    known = admin_console(alice).post("/invitations", {"email": bob.email})
    unknown = admin_console(alice).post("/invitations", {"email": "dora@example.com"})
    assert known.status_code == unknown.status_code == 201
    varying = {"id", "email", "accept_url", "sent_at", "expires_at"}
    a, b = known.json(), unknown.json()
    assert set(a) == set(b)
    assert {k: v for k, v in a.items() if k not in varying} == {
        k: v for k, v in b.items() if k not in varying
    }
    assert "globex" not in known.content.decode()
    assert not Membership.objects.filter(user=bob, workspace__slug="acme").exists()


def test_inviting_again_renews_the_invitation(alice):
    first = invite(alice, role="viewer")
    second = invite(alice, role="admin")
    assert second["id"] == first["id"]
    assert second["role"] == "admin"
    assert Invitation.objects.filter(email="dora@example.com").count() == 1
    assert token_of(second) != token_of(first)
    # The old link stops working; the new one opens the renewed invitation.
    assert (
        ConsoleClient().post("/invitations/lookup", {"token": token_of(first)}).status_code == 404
    )
    preview = ConsoleClient().post("/invitations/lookup", {"token": token_of(second)})
    assert preview.json()["role"] == "admin"


def test_inviting_a_member_is_a_conflict(alice, charlie):
    response = admin_console(alice).post("/invitations", {"email": charlie.email})
    assert response.status_code == 409
    assert response.json()["code"] == "AlreadyMember"
    assert not Invitation.objects.exists()


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"email": "nope"}, "email"),
        ({"email": "x@example.com", "role": "owner"}, "role"),
        ({}, "email"),
    ],
)
def test_bad_invitation_input_is_a_400(alice, payload, named):
    response = admin_console(alice).post("/invitations", payload)
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParameter"
    assert named in response.json()["message"]


def test_revoked_invitations_leave_the_list_and_their_link_stops(alice):
    created = invite(alice)
    response = admin_console(alice).post(f"/invitations/{created['id']}/revoke")
    assert response.status_code == 200
    assert response.json()["status"] == "revoked"
    assert "accept_url" not in response.json()
    assert admin_console(alice).get("/invitations").json() == []
    lookup = ConsoleClient().post("/invitations/lookup", {"token": token_of(created)})
    assert lookup.status_code == 410
    assert lookup.json()["code"] == "InvitationRevoked"
    # Inviting again after a revocation is a fresh invitation.
    assert invite(alice)["id"] != created["id"]


def test_an_accepted_invitation_cannot_be_revoked(alice):
    created = invite(alice)
    dora = User.objects.create_user("dora@example.com", PASSWORD)
    assert (
        ConsoleClient()
        .as_user(dora)
        .post("/invitations/accept", {"token": token_of(created)})
        .status_code
        == 200
    )
    response = admin_console(alice).post(f"/invitations/{created['id']}/revoke")
    assert response.status_code == 409
    assert response.json()["code"] == "InvitationUsed"


def test_the_link_never_reaches_the_log(alice, caplog):
    caplog.set_level(logging.DEBUG)
    created = invite(alice)
    admin_console(alice).get("/invitations")
    ConsoleClient().post("/invitations/lookup", {"token": token_of(created)})
    assert token_of(created) not in caplog.text


# --- e-mail -----------------------------------------------------------------------------------


def test_with_email_configured_the_link_is_mailed_not_shown(alice, settings):
    settings.EMAIL_HOST = "smtp.example.com"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    created = invite(alice, "dora@example.com", "viewer")
    assert created["email_sent"] is True
    assert created["accept_url"] is None
    [message] = mail.outbox
    assert message.to == ["dora@example.com"]
    assert "Acme" in message.subject
    link = next(word for word in message.body.split() if "/invitations/accept#" in word)
    token = link.split("#", 1)[1]
    assert Invitation.objects.get(pk=created["id"]).token_hash == keys.hash_key(token)
    dora = User.objects.create_user("dora@example.com", PASSWORD)
    accepted = ConsoleClient().as_user(dora).post("/invitations/accept", {"token": token})
    assert accepted.status_code == 200
    assert accepted.json()["role"] == "viewer"


def test_without_email_configured_nothing_is_sent(alice, settings):
    settings.EMAIL_HOST = ""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert invite(alice)["accept_url"]
    assert mail.outbox == []


def test_a_failed_email_falls_back_to_showing_the_link(alice, settings, monkeypatch, caplog):
    settings.EMAIL_HOST = "smtp.example.com"

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("no server")

    monkeypatch.setattr("apps.accounts.services.send_mail", refuse)
    created = invite(alice)
    assert created["email_sent"] is False
    assert token_of(created) not in caplog.text
    assert "could not be sent" in caplog.text


# --- accepting --------------------------------------------------------------------------------


def test_the_link_shows_what_it_is_for(alice):
    created = invite(alice, role="viewer")
    response = ConsoleClient().post("/invitations/lookup", {"token": token_of(created)})
    assert response.status_code == 200
    body = response.json()
    assert (body["workspace"], body["email"], body["role"]) == (
        "Acme",
        "dora@example.com",
        "viewer",
    )
    assert body["invited_by"] == alice.name
    assert "token" not in body and "id" not in body


def test_a_signed_in_invitee_accepts(alice):
    created = invite(alice, role="viewer")
    dora = User.objects.create_user("dora@example.com", PASSWORD)
    console = ConsoleClient().as_user(dora)
    response = console.post("/invitations/accept", {"token": token_of(created)})
    assert response.status_code == 200
    assert (response.json()["slug"], response.json()["role"]) == ("acme", "viewer")
    assert Membership.objects.get(user=dora, workspace__slug="acme").role == Role.VIEWER
    invitation = Invitation.objects.get(pk=created["id"])
    assert (invitation.status, invitation.accepted_by) == ("accepted", dora)
    assert admin_console(alice).get("/invitations").json() == []
    again = console.post("/invitations/accept", {"token": token_of(created)})
    assert again.status_code == 410
    assert again.json()["code"] == "InvitationUsed"


def test_a_member_who_accepts_keeps_their_role(alice, charlie):
    invitation_token = token_of(invite(alice, "newcomer@example.com"))
    # The address joined by other means (say an admin in /admin/) before accepting.
    Invitation.objects.update(email=charlie.email)
    response = (
        ConsoleClient().as_user(charlie).post("/invitations/accept", {"token": invitation_token})
    )
    assert response.status_code == 200
    assert Membership.objects.get(user=charlie).role == Role.DEVELOPER


def test_someone_signed_in_as_another_address_cannot_accept(alice, bob):
    created = invite(alice)
    response = (
        ConsoleClient().as_user(bob).post("/invitations/accept", {"token": token_of(created)})
    )
    assert response.status_code == 403
    assert response.json()["code"] == "InvitationForAnotherUser"
    assert "dora@example.com" in response.json()["message"]
    assert not Membership.objects.filter(user=bob, workspace__slug="acme").exists()
    assert Invitation.objects.get(pk=created["id"]).status == "pending"


def test_an_expired_invitation_is_a_410(alice):
    created = invite(alice)
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    token = token_of(created)
    lookup = ConsoleClient().post("/invitations/lookup", {"token": token})
    assert lookup.status_code == 410
    assert lookup.json()["code"] == "InvitationExpired"
    dora = User.objects.create_user("dora@example.com", PASSWORD)
    accept = ConsoleClient().as_user(dora).post("/invitations/accept", {"token": token})
    assert accept.status_code == 410
    sign_up = ConsoleClient().post(
        "/invitations/sign-up", {"token": token, "name": "Dora", "password": PASSWORD}
    )
    assert sign_up.status_code == 410
    assert not Membership.objects.filter(user=dora).exists()
    assert admin_console(alice).get("/invitations").json()[0]["status"] == "expired"


@pytest.mark.parametrize("token", ["not-a-token", "x" * 43, " "])
def test_an_unknown_token_is_a_404(alice, token):
    invite(alice)
    response = ConsoleClient().post("/invitations/lookup", {"token": token})
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound"


def test_a_missing_or_huge_token_is_a_400(alice):
    assert ConsoleClient().post("/invitations/lookup", {}).status_code == 400
    assert ConsoleClient().post("/invitations/lookup", {"token": "x" * 500}).status_code == 400


def test_an_api_key_cannot_accept(alice, acme):
    created = invite(alice)
    key = create_api_key(acme, name="ci", created_by=alice).plaintext
    response = (
        ConsoleClient().with_key(key).post("/invitations/accept", {"token": token_of(created)})
    )
    assert response.status_code == 403
    assert Invitation.objects.get(pk=created["id"]).status == "pending"


def test_accepting_needs_a_session(alice):
    created = invite(alice)
    response = ConsoleClient().post("/invitations/accept", {"token": token_of(created)})
    assert response.status_code == 401


# --- accepting with a new account -------------------------------------------------------------


def test_a_new_person_signs_up_and_joins_in_one_step(alice):
    created = invite(alice, role="viewer")
    console = ConsoleClient()
    response = console.post(
        "/invitations/sign-up",
        {"token": token_of(created), "name": "Dora", "password": PASSWORD},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["user"]["email"] == "dora@example.com"
    assert [(w["slug"], w["role"]) for w in body["workspaces"]] == [("acme", "viewer")]
    assert "password" not in response.content.decode()
    dora = User.objects.get(email="dora@example.com")
    assert dora.check_password(PASSWORD) and dora.name == "Dora"
    # Signed in: the same client is now dora.
    assert console.get("/auth/me").json()["user"]["email"] == "dora@example.com"
    assert Invitation.objects.get(pk=created["id"]).status == "accepted"


def test_signing_up_for_an_existing_account_asks_to_sign_in(alice, bob):
    created = invite(alice, bob.email)
    response = ConsoleClient().post(
        "/invitations/sign-up", {"token": token_of(created), "name": "Bob", "password": PASSWORD}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "AccountExists"
    assert not Membership.objects.filter(user=bob, workspace__slug="acme").exists()


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"name": "Dora", "password": "123"}, "password"),
        ({"name": "  ", "password": PASSWORD}, "name"),
        ({"name": "Dora"}, "password"),
    ],
)
def test_bad_sign_up_input_is_a_400(alice, payload, named):
    created = invite(alice)
    response = ConsoleClient().post("/invitations/sign-up", {"token": token_of(created), **payload})
    assert response.status_code == 400
    assert response.json()["message"].startswith(named)
    assert not User.objects.filter(email="dora@example.com").exists()
    assert Invitation.objects.get(pk=created["id"]).status == "pending"


def test_sign_up_checks_csrf(alice):
    created = invite(alice)
    response = ConsoleClient(enforce_csrf=True).post(
        "/invitations/sign-up", {"token": token_of(created), "name": "Dora", "password": PASSWORD}
    )
    assert response.status_code == 403
    assert response.json()["code"] == "CSRFFailed"
    assert not User.objects.filter(email="dora@example.com").exists()


# --- tenancy ----------------------------------------------------------------------------------


def test_another_workspaces_invitations_are_not_found(alice, bob, acme, globex):
    created = invite(alice)
    assert_foreign_object_is_not_found(
        method="POST",
        path=f"/invitations/{created['id']}/revoke",
        outsider=bob,
        outsider_workspace=globex,
        owner_workspace=acme,
        snapshot=lambda: list(Invitation.objects.values("id", "revoked_at", "token_hash")),
        secret_values=("dora@example.com",),
    )
    # Nor does bob's list show it.
    assert ConsoleClient().as_user(bob, "globex").get("/invitations").json() == []
    assert ConsoleClient().as_user(bob, "acme").get("/invitations").status_code == 404


def test_a_malformed_invitation_id_is_a_404(alice):
    response = admin_console(alice).post("/invitations/not-a-uuid/revoke")
    assert response.status_code == 404
