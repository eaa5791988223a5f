"""The knowledge retrieval node: searches real knowledge bases (ingested through the console,
embedded and reranked by the scripted upstream) with a variable's text; passages as a list
and as numbered text; the knowledge base's own settings unless the node overrides them."""

import pytest
from pydantic import ValidationError

from apps.applications.models import Run
from apps.applications.workflow.engine import WorkflowNodeFailed
from apps.applications.workflow.nodes.knowledge_retrieval import (
    KnowledgeRetrieval,
    KnowledgeRetrievalSettings,
)
from apps.knowledge.models import KnowledgeBase
from apps.usage.models import UsageRecord
from apps.usage.services import flush_usage
from tests.applications.workflows.conftest import chain, definition, node, node_outputs, run, text
from tests.console import ConsoleClient
from tests.knowledge.conftest import create_kb, upload

pytestmark = pytest.mark.django_db(transaction=True)

POLICY = (
    b"# Travel policy\n\n"
    b"Employees book economy class for flights under six hours.\n\n"
    b"## Hotels\n\nHotels are reimbursed up to 150 euros a night in Europe.\n"
)
SECURITY = b"# Security\n\nLaptops must use full disk encryption and a screen lock.\n"
PASSAGE_FIELDS = {
    "text",
    "document_name",
    "document_id",
    "score",
    "page",
    "section",
    "knowledge_base_id",
}


@pytest.fixture
def handbook(acme_console) -> dict:
    kb = create_kb(acme_console, name="Handbook", chunking={"chunk_size": 40, "chunk_overlap": 0})
    upload(acme_console, kb["id"], {"travel.md": POLICY})
    upload(acme_console, kb["id"], {"security.md": SECURITY})
    return kb


def retrieval(kb_ids: list[str], **settings) -> dict:
    """start (a text input ``topic``) → retrieval → end (its text)."""
    return definition(
        [
            node("start", "start", variables=[{"name": "topic", "type": "string"}]),
            node("kr", "knowledge_retrieval", knowledge_base_ids=kb_ids, **settings),
            node("end", "end", output="{{ kr.text }}"),
        ],
        chain("start", "kr", "end"),
    )


def test_passages_as_a_list_and_as_numbered_text(workflow_app, handbook):
    app = workflow_app(retrieval([handbook["id"]], top_k=2))
    events = run(app, "How much are hotels reimbursed a night?")
    passages = node_outputs(events)["kr"]["passages"]
    assert len(passages) == 2
    assert all(set(p) == PASSAGE_FIELDS for p in passages)
    first = passages[0]
    assert first["document_name"] == "travel.md" and "150 euros" in first["text"]
    assert first["knowledge_base_id"] == handbook["id"]
    assert first["score"] >= passages[1]["score"]
    answer = text(events)
    assert answer.startswith("[1] travel.md\n") and "\n\n[2] " in answer
    assert answer == node_outputs(events)["kr"]["text"]


def test_the_search_is_traced_under_the_node(workflow_app, handbook):
    run(workflow_app(retrieval([handbook["id"]], mode="fulltext", top_k=1)), "disk encryption")
    [step] = [s for s in Run.objects.get().steps.all() if s.kind == "retrieval"]
    assert (step.name, step.node_id) == ("knowledge_retrieval", "kr")
    assert step.input["query"] == "disk encryption"
    assert (step.input["mode"], step.input["top_k"]) == ("fulltext", 1)
    assert [p["document_name"] for p in step.output["passages"]] == ["security.md"]


def test_unset_overrides_keep_the_knowledge_bases_own_settings(workflow_app, acme_console):
    kb = create_kb(acme_console, name="Tiny", retrieval={"mode": "fulltext", "top_k": 1})
    upload(acme_console, kb["id"], {"travel.md": POLICY, "security.md": SECURITY})
    run(workflow_app(retrieval([kb["id"]])), "hotels economy laptops")
    [step] = [s for s in Run.objects.get().steps.all() if s.kind == "retrieval"]
    assert (step.input["mode"], step.input["top_k"], step.input["rerank"]) == ("fulltext", 1, False)
    assert len(step.output["passages"]) == 1


def test_rerank_and_the_score_threshold_apply(workflow_app, acme_console, upstream):
    kb = create_kb(acme_console, name="Reranked", rerank_model="stub-rerank")
    upload(acme_console, kb["id"], {"travel.md": POLICY})
    events = run(
        workflow_app(retrieval([kb["id"]], rerank=True, score_threshold=0.99)),
        "hotels reimbursed",
    )
    assert upstream.requests_for("dashscope.rerank")
    assert node_outputs(events)["kr"] == {"passages": [], "text": ""}


def test_rerank_without_a_rerank_model_fails_the_node(workflow_app, handbook):
    app = workflow_app(retrieval([handbook["id"]], rerank=True))
    named = r"Node 'kr' \(knowledge_retrieval\): rerank: .* has a rerank model"
    with pytest.raises(WorkflowNodeFailed, match=named):
        run(app, "hotels")
    [step] = [s for s in Run.objects.get().steps.all() if s.node_id == "kr"]
    assert step.output["status"] == "failed" and "rerank_model" in step.error


def test_the_query_embedding_is_metered_for_the_app_and_the_node(workflow_app, handbook):
    app = workflow_app(retrieval([handbook["id"]], query="start.topic", mode="vector"))
    run(app, "x", {"topic": "hotels"})
    flush_usage()
    [row] = UsageRecord.objects.filter(app_id=app.pk)
    assert (row.app_node, row.model) == ("kr", handbook["embedding_model"])


def test_the_query_may_be_another_variable(workflow_app, handbook):
    app = workflow_app(retrieval([handbook["id"]], query="{{ start.topic }}", top_k=1))
    events = run(app, "ignored", inputs={"topic": "screen lock for laptops"})
    [found] = node_outputs(events)["kr"]["passages"]
    assert found["document_name"] == "security.md"


def test_an_empty_query_fails_the_node(workflow_app, handbook):
    app = workflow_app(retrieval([handbook["id"]], query="start.topic"))
    with pytest.raises(WorkflowNodeFailed, match=r"Node 'kr' \(knowledge_retrieval\): start"):
        run(app, "hotels", inputs={"topic": "   "})


def test_a_knowledge_base_deleted_since_fails_the_node(workflow_app, handbook):
    app = workflow_app(retrieval([handbook["id"]]))
    KnowledgeBase.objects.filter(pk=handbook["id"]).delete()
    with pytest.raises(WorkflowNodeFailed, match=f"no knowledge base {handbook['id']}"):
        run(app, "hotels")


def test_another_workspaces_knowledge_base_is_not_searched(workflow_app, handbook, bob):
    theirs = create_kb(ConsoleClient().as_user(bob, "globex"), name="Globex secrets")
    app = workflow_app(retrieval([handbook["id"], theirs["id"]]))
    with pytest.raises(WorkflowNodeFailed, match=f"no knowledge base {theirs['id']} in this"):
        run(app, "hotels")


def test_uses_names_the_knowledge_bases():
    ids = ["6f1d1c8e-0d0b-4a51-9a3e-7d41d3f5b0a1", "0b6c8d7e-1f2a-4b3c-8d9e-0f1a2b3c4d5e"]
    settings = KnowledgeRetrievalSettings.model_validate({"knowledge_base_ids": ids})
    assert KnowledgeRetrieval().uses(settings).knowledge_base_ids == ids
    [read] = KnowledgeRetrieval().reads(settings)
    assert (read.reference, read.type) == ("sys.query", "string")


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        ({"knowledge_base_ids": []}, "at least 1 item"),
        ({"knowledge_base_ids": ["kb-1"]}, "UUID"),
        ({"top_k": 0}, "greater than or equal to 1"),
        ({"mode": "semantic"}, "mode"),
        ({"score_threshold": 1.5}, "less than or equal to 1"),
        ({"query": "what is it?"}, "pattern"),
    ],
)
def test_bad_settings_are_refused(data, complaint):
    base = {"knowledge_base_ids": ["6f1d1c8e-0d0b-4a51-9a3e-7d41d3f5b0a1"]}
    with pytest.raises(ValidationError, match=complaint):
        KnowledgeRetrievalSettings.model_validate({**base, **data})


def test_a_knowledge_base_listed_twice_is_refused():
    kb_id = "6f1d1c8e-0d0b-4a51-9a3e-7d41d3f5b0a1"
    with pytest.raises(ValidationError, match="each knowledge base once"):
        KnowledgeRetrievalSettings.model_validate({"knowledge_base_ids": [kb_id, kb_id]})


def test_an_iteration_searches_side_by_side_on_the_runs_one_connection(workflow_app, handbook):
    # Each search runs in transaction.atomic on the shared connection: the items' threads
    # must take turns on it, or Django's transaction bookkeeping breaks.
    app = workflow_app(
        definition(
            [
                node("start", "start", variables=[{"name": "topics", "type": "array"}]),
                node("each", "iteration", items="start.topics", concurrency=4, output="kr.text"),
                {
                    **node(
                        "kr",
                        "knowledge_retrieval",
                        knowledge_base_ids=[handbook["id"]],
                        query="each.item",
                        mode="vector",
                    ),
                    "parent": "each",
                },
                node("end", "end", output="{{ each.results }}"),
            ],
            chain("start", "each", "end"),
        )
    )
    topics = ["hotels", "laptops", "flights", "encryption", "economy", "euros", "lock", "night"]
    events = run(app, "x", {"topics": topics})
    results = node_outputs(events)["each"]["results"]
    assert len(results) == len(topics) and all(results)
    assert "Hotels are reimbursed" in results[0] and "encryption" in results[1]
