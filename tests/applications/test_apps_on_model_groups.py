"""An agent app whose model is a model group: accepted in its draft, and its published
version answered through the group's fallback, with the official ``dashscope`` SDK."""

import dashscope
import pytest
from dashscope import Application

from apps.model_endpoints import group_services
from apps.model_endpoints.group_services import MemberSpec
from tests.applications.conftest import make_app, publish
from tests.upstream import error, text

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def group(chat, acme):
    created = group_services.create_group(
        name="chat-group",
        members=[MemberSpec("agent-chat"), MemberSpec("plain-chat")],
        balancing="least_busy",
    )
    group_services.grant_group(created, acme, by=None)
    return created


def test_an_app_on_a_group_falls_back_to_the_next_member(
    platform_url, group, acme_console, acme_key, upstream, monkeypatch
):
    monkeypatch.setattr(dashscope, "base_http_api_url", f"{platform_url}/api/v1")
    app = make_app(acme_console, model="chat-group")
    assert app["draft"]["model"] == "chat-group"
    publish(acme_console, app["id"])
    upstream.script("chat", error(503, "first member down"), text("from the second"))
    response = Application.call(app_id=app["id"], api_key=acme_key, prompt="hi")
    assert response.status_code == 200, response
    assert response.output.text == "from the second"
    assert [r.body["model"] for r in upstream.requests_for("chat")] == ["up-chat", "up-plain"]


def test_a_group_not_granted_is_not_a_chat_model_of_the_workspace(group, globex, bob):
    from tests.console import ConsoleClient

    console = ConsoleClient().as_user(bob, "globex")
    response = console.post("/apps", {"name": "Nope", "draft": {"model": "chat-group"}})
    assert response.status_code == 400
    assert "chat-group" in response.json()["message"]
