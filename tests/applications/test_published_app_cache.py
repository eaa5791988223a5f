"""The app API's hot path before retrieval: the published app, its live version and its
knowledge bases come from a per-process cache (``selectors.published_app`` on
``kernel.config_cache``) that every committed change to an app, a version or a knowledge
base invalidates, in this process at once and in others through the version in Redis;
and a run resolves its model's route once, however many model calls it makes."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.applications.models import AppVersion
from apps.gateway import routing
from apps.model_endpoints.models import EndpointCapability
from apps.usage.models import UsageRecord
from apps.usage.services import flush_usage
from kernel import config_cache
from kernel.redis_connection import redis_client
from tests.applications.conftest import make_app, publish
from tests.applications.workflows.conftest import (  # noqa: F401  (workflow_app: a fixture)
    chain,
    definition,
    node,
    run,
    workflow_app,
)
from tests.knowledge.conftest import create_kb
from tests.upstream import text, tool_call

pytestmark = pytest.mark.django_db(transaction=True)  # invalidation happens on commit

#: The tables the cache answers for: a call that hits it reads none of them.
CACHED_TABLES = ("agents_agentapp", "agents_appversion", "knowledge_knowledgebase")


def complete(key: str, app_id: str, prompt: str = "hi"):
    """One non-streamed call of the app API, in this process; the response and the
    queries it made."""
    with CaptureQueriesContext(connection) as captured:
        response = Client().post(
            f"/api/v1/apps/{app_id}/completion",
            {"input": {"prompt": prompt}},
            content_type="application/json",
            headers={"Authorization": f"Bearer {key}"},
        )
    return response, captured.captured_queries


def tables_read(queries) -> set[str]:
    return {
        table
        for query in queries
        for table in re.findall(r'(?:FROM|JOIN)\s+"(\w+)"', query["sql"])
        if table in CACHED_TABLES
    }


def system_prompt_sent(upstream) -> str:
    return upstream.requests_for("chat")[-1].body["messages"][0]["content"]


@pytest.fixture
def handbook(acme_console) -> dict:
    return create_kb(acme_console, name="Handbook")


@pytest.fixture
def app(acme_console, handbook) -> dict:
    created = make_app(
        acme_console,
        system_prompt="Be kind.",
        knowledge={"knowledge_base_ids": [handbook["id"]], "top_k": 3},
    )
    publish(acme_console, created["id"])
    return created


def test_a_second_call_reads_neither_the_app_nor_its_version_nor_its_knowledge(
    app, acme_key, upstream
):
    first, queries = complete(acme_key, app["id"])
    assert first.status_code == 200, first.content
    assert tables_read(queries) == set(CACHED_TABLES)
    second, queries = complete(acme_key, app["id"])
    assert second.status_code == 200, second.content
    assert tables_read(queries) == set()
    assert not [q for q in queries if 'FROM "accounts_workspace"' in q["sql"]]
    assert len(upstream.requests_for("embeddings")) == 2  # the knowledge base still searched


def test_a_new_version_is_run_by_the_next_call(app, acme_console, acme_key, upstream):
    complete(acme_key, app["id"])
    assert system_prompt_sent(upstream) == "Be kind."
    draft = {**app["draft"], "system_prompt": "Be brief."}
    assert acme_console.put(f"/apps/{app['id']}/draft", draft).status_code == 200
    complete(acme_key, app["id"])
    assert system_prompt_sent(upstream) == "Be kind."  # a draft is not live
    publish(acme_console, app["id"])
    complete(acme_key, app["id"])
    assert system_prompt_sent(upstream) == "Be brief."


def test_a_rolled_back_version_is_run_once_published(app, acme_console, acme_key, upstream):
    draft = {**app["draft"], "system_prompt": "Be brief."}
    acme_console.put(f"/apps/{app['id']}/draft", draft)
    publish(acme_console, app["id"])
    complete(acme_key, app["id"])
    assert system_prompt_sent(upstream) == "Be brief."
    assert acme_console.post(f"/apps/{app['id']}/versions/1/rollback").status_code == 200
    publish(acme_console, app["id"])
    complete(acme_key, app["id"])
    assert system_prompt_sent(upstream) == "Be kind."


def test_an_app_without_versions_is_refused_by_the_next_call(app, acme_key):
    assert complete(acme_key, app["id"])[0].status_code == 200
    # No unpublish in the console: a version deleted (the admin can) is the nearest thing.
    AppVersion.objects.filter(app_id=app["id"]).delete()
    response, _ = complete(acme_key, app["id"])
    assert response.status_code == 400
    assert response.json()["code"] == "FlowNotPublished"


def test_a_deleted_app_is_not_found_by_the_next_call(app, acme_console, acme_key):
    assert complete(acme_key, app["id"])[0].status_code == 200
    assert acme_console.delete(f"/apps/{app['id']}").status_code == 204
    assert complete(acme_key, app["id"])[0].status_code == 404


def test_a_knowledge_base_change_is_seen_by_the_next_call(
    app, handbook, acme_console, acme_key, upstream
):
    complete(acme_key, app["id"])
    assert len(upstream.requests_for("embeddings")) == 1
    assert acme_console.delete(f"/knowledge-bases/{handbook['id']}").status_code == 204
    response, _ = complete(acme_key, app["id"])
    assert response.status_code == 200, response.content
    assert len(upstream.requests_for("embeddings")) == 1  # nothing left to search


def test_another_processs_publish_is_seen_through_the_version(app, acme_key, upstream):
    complete(acme_key, app["id"])
    # A change this process sent no signal for, as if another process had made it:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE agents_appversion SET config = jsonb_set(config, '{system_prompt}', "
            "'\"Be brief.\"') WHERE app_id = %s",
            [app["id"]],
        )
    complete(acme_key, app["id"])
    assert system_prompt_sent(upstream) == "Be kind."  # still served from the cache
    redis_client().incr(config_cache.VERSION_KEY)  # what that process's commit does
    complete(acme_key, app["id"])
    assert system_prompt_sent(upstream) == "Be brief."


def test_another_workspaces_app_is_not_found_through_the_cache(app, acme_key, globex_key):
    assert complete(acme_key, app["id"])[0].status_code == 200  # cached for acme
    for _ in range(2):
        response, _queries = complete(globex_key, app["id"])
        assert response.status_code == 404
        assert app["id"] in response.json()["message"]
    assert complete(acme_key, "not-a-uuid")[0].status_code == 404


def test_an_unknown_app_is_not_cached(acme_key, chat):
    unknown = "3b0f4a5e-8a7c-4c55-9d0e-2f8f0b8f6d11"
    assert complete(acme_key, unknown)[0].status_code == 404
    _, queries = complete(acme_key, unknown)
    assert "agents_agentapp" in tables_read(queries)


# --- one route per run ----------------------------------------------------------------------


@pytest.fixture
def chat_routes(monkeypatch) -> list[str]:
    """The chat models routing resolves, one entry per lookup."""
    resolved: list[str] = []
    real = routing.route

    def counting(workspace, model, capability, **kwargs):
        if capability == EndpointCapability.CHAT:
            resolved.append(model)
        return real(workspace, model, capability, **kwargs)

    monkeypatch.setattr(routing, "route", counting)
    return resolved


def test_an_agent_resolves_its_model_once_and_meters_each_call(
    acme_console, acme_key, upstream, chat_routes
):
    app = make_app(acme_console, tools=[{"type": "plugin", "id": "calculator"}])
    publish(acme_console, app["id"])
    upstream.script("chat", tool_call("calculator", {"expression": "6*7"}), text("42"))
    response, _ = complete(acme_key, app["id"], "6*7?")
    assert response.status_code == 200, response.content
    assert response.json()["output"]["text"] == "42"
    assert len(upstream.requests_for("chat")) == 2
    assert chat_routes == ["agent-chat"]
    flush_usage()
    assert UsageRecord.objects.filter(capability="chat", app_id=app["id"]).count() == 2


def test_a_workflow_node_called_twice_resolves_its_model_once(
    workflow_app,  # noqa: F811
    upstream,
    chat_routes,
):
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    flow = definition(
        [
            node("start", "start"),
            node("x", "parameter_extractor", model="agent-chat", parameters=schema),
            node("end", "end", output="{{ x.n }}"),
        ],
        chain("start", "x", "end"),
    )
    upstream.script("chat", text('{"n": "three"}'), text('{"n": 3}'))
    run(workflow_app(flow), "three")
    assert len(upstream.requests_for("chat")) == 2  # the retry
    assert chat_routes == ["agent-chat"]
