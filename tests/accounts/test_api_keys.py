"""API keys: shown once, stored hashed, refused when revoked or expired."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts.keys import hash_key
from apps.accounts.models import ApiKey
from apps.accounts.services import create_api_key
from tests.console import ConsoleClient

pytestmark = pytest.mark.django_db


def new_key(workspace, user=None, **kwargs) -> str:
    return create_api_key(workspace, name="ci", created_by=user, **kwargs).plaintext


def test_a_created_key_is_shown_once_and_stored_hashed(charlie, acme):
    console = ConsoleClient().as_user(charlie, "acme")
    response = console.post("/api-keys", {"name": "ci"})
    assert response.status_code == 201
    key = response.json()["key"]
    assert key.startswith("sk-") and len(key) == 51
    stored = ApiKey.objects.get()
    assert stored.secret_hash == hash_key(key)
    assert key not in {stored.prefix, stored.secret_hash, stored.last_four}
    assert stored.created_by == charlie

    listed = console.get("/api-keys")
    assert key not in listed.content.decode()
    assert stored.secret_hash not in listed.content.decode()
    [row] = listed.json()
    assert row["masked"] == f"{key[:15]}…{key[-4:]}"
    assert (row["status"], row["created_by"]) == ("active", "charlie@example.com")


def test_a_program_presenting_a_key_is_recognised_as_its_workspace(alice, acme):
    key = new_key(acme, alice)
    me = ConsoleClient().with_key(key).get("/auth/me")
    assert me.status_code == 200
    body = me.json()
    assert body["user"] is None
    assert [(w["slug"], w["role"]) for w in body["workspaces"]] == [("acme", "api_key")]
    assert body["api_key"]["name"] == "ci"
    members = ConsoleClient().with_key(key).get("/members")
    assert members.status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        "Bearer sk-" + "0" * 48,  # well-formed, unknown
        "Bearer sk-nothex",
        "Bearer ",
        "Basic YWxpY2U6cHc=",
        "sk-" + "0" * 48,
    ],
)
def test_invalid_keys_answer_invalid_api_key(header, acme):
    response = ConsoleClient().get("/auth/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["code"] == "InvalidApiKey"


def test_a_right_prefix_with_a_wrong_secret_is_refused(acme):
    key = new_key(acme)
    forged = key[:-4] + ("0000" if key[-4:] != "0000" else "1111")
    response = ConsoleClient().with_key(forged).get("/auth/me")
    assert response.status_code == 401
    assert response.json()["code"] == "InvalidApiKey"


def test_no_credentials_at_all_is_a_401(acme):
    response = ConsoleClient().get("/members", headers={"X-Workspace": "acme"})
    assert response.status_code == 401
    assert response.json()["code"] == "NotAuthenticated"


def test_a_revoked_key_is_refused_at_once(alice, acme):
    key = new_key(acme, alice)
    api_key = ApiKey.objects.get()
    console = ConsoleClient().as_user(alice, "acme")
    response = console.post(f"/api-keys/{api_key.id}/revoke")
    assert response.status_code == 200
    assert response.json()["status"] == "revoked"
    refused = ConsoleClient().with_key(key).get("/auth/me")
    assert refused.status_code == 401
    assert refused.json() == {
        "code": "InvalidApiKey",
        "message": "This API key has been revoked.",
        "request_id": refused["X-Request-Id"],
    }


def test_an_expired_key_is_refused(acme):
    key = new_key(acme, expires_at=timezone.now() + timedelta(seconds=1))
    ApiKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = ConsoleClient().with_key(key).get("/auth/me")
    assert response.status_code == 401
    assert response.json()["message"] == "This API key has expired."


def test_an_expiry_in_the_past_is_a_400(alice):
    response = (
        ConsoleClient()
        .as_user(alice, "acme")
        .post("/api-keys", {"name": "old", "expires_at": "2020-01-01T00:00:00Z"})
    )
    assert response.status_code == 400
    assert "expires_at" in response.json()["message"]
    assert not ApiKey.objects.exists()


def test_a_naive_expiry_is_read_as_utc(alice):
    response = (
        ConsoleClient()
        .as_user(alice, "acme")
        .post("/api-keys", {"name": "later", "expires_at": "2099-01-01T00:00:00"})
    )
    assert response.status_code == 201
    assert response.json()["expires_at"].startswith("2099-01-01T00:00:00")
    assert ApiKey.objects.get().expires_at.utcoffset() == timedelta(0)


def test_last_used_is_written_at_most_once_a_minute(acme, monkeypatch):
    key = new_key(acme)
    console = ConsoleClient().with_key(key)
    console.get("/workspace")
    first_use = ApiKey.objects.get().last_used_at
    assert first_use is not None

    with CaptureQueriesContext(connection) as queries:
        assert console.get("/workspace").status_code == 200
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert ApiKey.objects.get().last_used_at == first_use

    # Two minutes later (the key itself is cached by the process, so time moves instead).
    later = timezone.now() + timedelta(minutes=2)
    monkeypatch.setattr(timezone, "now", lambda: later)
    console.get("/workspace")
    assert ApiKey.objects.get().last_used_at == later


def test_developers_revoke_their_own_keys_only(alice, charlie, acme):
    new_key(acme, alice)
    alices = ApiKey.objects.get()
    console = ConsoleClient().as_user(charlie, "acme")
    response = console.post(f"/api-keys/{alices.id}/revoke")
    assert response.status_code == 403
    alices.refresh_from_db()
    assert alices.revoked_at is None

    own = console.post("/api-keys", {"name": "mine"}).json()
    assert console.post(f"/api-keys/{own['id']}/revoke").status_code == 200


def test_a_key_cannot_mint_keys_or_manage_members(acme, alice):
    console = ConsoleClient().with_key(new_key(acme, alice))
    assert console.post("/api-keys", {"name": "more"}).status_code == 403
    assert console.get("/api-keys").status_code == 403
    assert console.post("/invitations", {"email": "x@example.com"}).status_code == 403
    assert console.get("/invitations").status_code == 403
    assert ApiKey.objects.count() == 1


def test_a_key_naming_another_workspace_is_a_404(acme, globex):
    response = ConsoleClient().with_key(new_key(acme), workspace="globex").get("/members")
    assert response.status_code == 404
