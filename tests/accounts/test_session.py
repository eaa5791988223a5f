"""Signing in and out of the console, and asking who I am."""

import pytest

from tests.conftest import PASSWORD
from tests.console import ConsoleClient

pytestmark = pytest.mark.django_db


def signed_in_client(email: str) -> ConsoleClient:
    console = ConsoleClient(enforce_csrf=True)
    token = console.get("/auth/csrf").json()["csrf_token"]
    response = console.post(
        "/auth/login", {"email": email, "password": PASSWORD}, headers={"X-CSRFToken": token}
    )
    assert response.status_code == 200, response.content
    console.headers["X-CSRFToken"] = console.client.cookies["csrftoken"].value
    return console


def test_login_returns_me_with_workspaces_and_roles(alice, bob):
    console = signed_in_client("ALICE@example.com ")
    me = console.get("/auth/me").json()
    assert me["user"]["email"] == "alice@example.com"
    assert me["user"]["is_platform_admin"] is False
    assert [(w["slug"], w["role"]) for w in me["workspaces"]] == [("acme", "admin")]


def test_login_with_a_wrong_password_is_refused(alice):
    console = ConsoleClient()
    response = console.post("/auth/login", {"email": alice.email, "password": "nope"})
    assert response.status_code == 401
    assert response.json()["code"] == "InvalidCredentials"
    assert console.get("/auth/me").status_code == 401


def test_login_needs_the_csrf_token(alice):
    console = ConsoleClient(enforce_csrf=True)
    response = console.post("/auth/login", {"email": alice.email, "password": PASSWORD})
    assert response.status_code == 403
    assert response.json()["code"] == "CSRFFailed"


def test_login_rejects_a_malformed_email():
    response = ConsoleClient().post("/auth/login", {"email": "not-an-email", "password": "x"})
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParameter"
    assert "email" in response.json()["message"]


def test_writes_in_a_session_need_the_csrf_header(alice):
    console = signed_in_client(alice.email)
    del console.headers["X-CSRFToken"]
    response = console.workspace("acme").patch("/workspace", {"name": "Acme Inc"})
    assert response.status_code == 403
    assert response.json()["code"] == "CSRFFailed"
    console.headers["X-CSRFToken"] = console.client.cookies["csrftoken"].value
    assert console.patch("/workspace", {"name": "Acme Inc"}).status_code == 200


def test_logout_ends_the_session(alice):
    console = signed_in_client(alice.email)
    assert console.post("/auth/logout").status_code == 204
    response = console.get("/auth/me")
    assert response.status_code == 401
    assert response.json()["code"] == "NotAuthenticated"


def test_a_platform_admin_sees_every_workspace_as_admin(root, acme, globex):
    me = ConsoleClient().as_user(root).get("/auth/me").json()
    assert me["user"]["is_platform_admin"] is True
    assert {(w["slug"], w["role"]) for w in me["workspaces"]} == {
        ("acme", "admin"),
        ("globex", "admin"),
    }


def test_an_inactive_user_cannot_sign_in(alice):
    alice.is_active = False
    alice.save()
    response = ConsoleClient().post("/auth/login", {"email": alice.email, "password": PASSWORD})
    assert response.status_code == 401
