"""Another workspace's apps, versions, sessions and runs answer 404 on every endpoint, to
its members and its API keys, and nothing of them changes."""

import pytest

from apps.applications.models import AgentApp, AppVersion, Run, Session
from tests.applications.conftest import make_app, play, publish
from tests.console import ConsoleClient
from tests.tenancy import assert_foreign_object_is_not_found

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def acme_app(acme_console, upstream):
    app = make_app(acme_console, system_prompt="Acme only.")
    publish(acme_console, app["id"], notes="v1")
    out = play(acme_console, app["id"], "hello")
    run = Run.objects.get()
    return {
        "id": app["id"],
        "session": out["session_id"],
        "run": str(run.pk),
        "draft": app["draft"],
    }


def _snapshot():
    return (
        list(AgentApp.objects.values("id", "name", "draft")),
        list(AppVersion.objects.values("id", "number", "config")),
        list(Session.objects.values("id", "messages")),
        list(Run.objects.values("id", "status")),
    )


def test_every_endpoint_hides_another_workspaces_app(acme_app, acme, globex, bob):
    app = acme_app["id"]
    endpoints = [
        ("GET", f"/apps/{app}", None),
        ("PATCH", f"/apps/{app}", {"name": "mine now"}),
        ("PUT", f"/apps/{app}/draft", acme_app["draft"]),
        ("DELETE", f"/apps/{app}", None),
        ("POST", f"/apps/{app}/playground", {"prompt": "x", "stream": False}),
        ("POST", f"/apps/{app}/publish", {"notes": "x"}),
        ("GET", f"/apps/{app}/versions", None),
        ("GET", f"/apps/{app}/versions/1", None),
        ("GET", f"/apps/{app}/versions/1/diff", None),
        ("POST", f"/apps/{app}/versions/1/rollback", None),
        ("GET", f"/apps/{app}/sessions", None),
        ("GET", f"/apps/{app}/sessions/{acme_app['session']}", None),
        ("DELETE", f"/apps/{app}/sessions/{acme_app['session']}", None),
        ("GET", f"/apps/{app}/runs", None),
        ("GET", f"/apps/{app}/runs/{acme_app['run']}", None),
    ]
    for method, path, body in endpoints:
        assert_foreign_object_is_not_found(
            method=method,
            path=path,
            outsider=bob,
            outsider_workspace=globex,
            owner_workspace=acme,
            json=body,
            snapshot=_snapshot,
        )


def test_bobs_app_list_is_his_own(acme_app, bob, chat):
    assert ConsoleClient().as_user(bob, "globex").get("/apps").json() == []


def test_sessions_and_runs_of_one_app_are_not_reachable_through_another(acme_console, acme_app):
    other = make_app(acme_console, name="Other")
    assert (
        acme_console.get(f"/apps/{other['id']}/sessions/{acme_app['session']}").status_code == 404
    )
    assert acme_console.get(f"/apps/{other['id']}/runs/{acme_app['run']}").status_code == 404


def test_a_session_of_another_workspace_is_not_continued(acme_app, bob, chat, upstream):
    bobs = ConsoleClient().as_user(bob, "globex")
    app = make_app(bobs, name="Globex app")
    out = play(bobs, app["id"], "hi", session_id=acme_app["session"])
    assert out["session_id"] != acme_app["session"]
    assert len(upstream.requests_for("chat")[-1].body["messages"]) == 2
