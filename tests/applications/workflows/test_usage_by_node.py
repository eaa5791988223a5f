"""A workflow's model calls are metered for its app and for the node that made them, so
usage can be broken down by node; calls made outside a workflow carry no node."""

import pytest

from apps.usage.models import UsageRecord
from apps.usage.services import flush_usage
from tests.applications.workflows.conftest import chain, definition, node, run
from tests.upstream import text as reply

pytestmark = pytest.mark.django_db


def test_an_llm_nodes_usage_row_names_the_app_and_the_node(workflow_app, upstream):
    app = workflow_app(
        definition(
            [
                node("start", "start"),
                node("summarise", "llm", model="agent-chat"),
                node("end", "end", output="{{ summarise.text }}"),
            ],
            chain("start", "summarise", "end"),
        )
    )
    upstream.script("chat", reply("short", prompt_tokens=5, completion_tokens=1))
    run(app, "make it short")
    flush_usage()
    row = UsageRecord.objects.get()
    assert (row.app_id, row.app_node) == (app.pk, "summarise")
    assert (row.model, row.input_tokens, row.output_tokens) == ("agent-chat", 5, 1)


def test_each_node_of_a_run_has_its_own_rows(workflow_app, upstream):
    app = workflow_app(
        definition(
            [
                node("start", "start"),
                node("first", "llm", model="agent-chat"),
                node("second", "llm", model="agent-chat", prompt="{{ first.text }}"),
                node("end", "end"),
            ],
            chain("start", "first", "second", "end"),
        )
    )
    upstream.script("chat", reply("one"), reply("two"))
    run(app)
    flush_usage()
    assert sorted(UsageRecord.objects.values_list("app_node", flat=True)) == ["first", "second"]
    assert set(UsageRecord.objects.values_list("app_id", flat=True)) == {app.pk}


def test_an_agent_nodes_model_calls_are_tagged_with_the_node(workflow_app, upstream):
    app = workflow_app(
        definition(
            [
                node("start", "start"),
                node("researcher", "agent", agent={"model": "agent-chat"}),
                node("end", "end", output="{{ researcher.text }}"),
            ],
            chain("start", "researcher", "end"),
        )
    )
    upstream.script("chat", reply("found it"))
    run(app)
    flush_usage()
    row = UsageRecord.objects.get()
    assert (row.app_id, row.app_node, row.model) == (app.pk, "researcher", "agent-chat")
