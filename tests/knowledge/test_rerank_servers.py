"""Rerank servers and listwise rerank, through the real platform: a knowledge base whose
reranker is an OpenAI-compatible rerank endpoint (rerank, score and TEI APIs), or a chat
model that answers the passages' order; upstream failures are clean errors; a workspace
names only models granted to it."""

import json
import logging
import re

import pytest

from apps.model_endpoints import services as endpoints
from apps.usage.models import UsageRecord
from apps.usage.services import flush_usage
from tests.gateway_fixtures import openai_settings
from tests.knowledge.conftest import create_kb, upload
from tests.upstream import RecordedRequest, Text, error, hang_up, scores, slow, text

pytestmark = pytest.mark.django_db(transaction=True)

POLICY = (
    b"# Travel\n\nEmployees book economy class for flights under six hours.\n\n"
    b"# Hotels\n\nHotels are reimbursed up to 150 euros a night with an invoice.\n\n"
    b"# Laptops\n\nLaptops must use full disk encryption and a screen lock.\n\n"
    b"# Meals\n\nMeals on trips are reimbursed up to 40 euros a day.\n"
)
QUERY = "reimbursed hotels employees"


@pytest.fixture
def rerankers(models, upstream, acme, globex):
    """acme's rerank endpoints on the stub's three rerank APIs and a chat model; globex's
    own chat model, not granted to acme."""
    made = {}
    for api in ("rerank", "score", "tei"):
        made[api] = endpoints.create_endpoint(
            name=f"rr-{api}",
            provider="vllm",
            upstream_model="BAAI/bge-reranker-v2-m3",
            capabilities=["rerank"],
            settings={**openai_settings(upstream), "rerank_api": api},
        )
    made["chat"] = endpoints.create_endpoint(
        name="judge",
        provider="openai",
        upstream_model="up-judge",
        capabilities=["chat"],
        settings=openai_settings(upstream),
    )
    for endpoint in made.values():
        endpoints.grant(endpoint, acme, by=None)
    made["foreign"] = endpoints.create_endpoint(
        name="globex-judge",
        provider="openai",
        upstream_model="up-judge",
        capabilities=["chat"],
        settings=openai_settings(upstream),
    )
    endpoints.grant(made["foreign"], globex, by=None)
    return made


@pytest.fixture
def kb(acme_console, rerankers):
    kb = create_kb(acme_console, chunking={"mode": "heading", "chunk_size": 64, "chunk_overlap": 0})
    upload(acme_console, kb["id"], {"policy.md": POLICY})
    return kb


def hit_test(console, kb_id, **options):
    return console.post(f"/knowledge-bases/{kb_id}/hit-test", {"query": QUERY, **options})


def found(console, kb_id, **options) -> list[dict]:
    response = hit_test(console, kb_id, mode="fulltext", top_k=10, **options)
    assert response.status_code == 200, response.content
    return response.json()["hits"]


def use(console, kb_id, model: str | None, mode: str | None = None) -> dict:
    change = {"rerank_model": model} | ({"rerank_mode": mode} if mode else {})
    response = console.patch(f"/knowledge-bases/{kb_id}", change)
    assert response.status_code == 200, response.content
    return response.json()


# --- rerank servers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api", "route"), [("rerank", "rerank"), ("score", "score"), ("tei", "rerank")]
)
def test_a_rerank_server_reorders_the_hits(acme_console, kb, upstream, api, route):
    plain = found(acme_console, kb["id"])
    assert len(plain) >= 3
    assert use(acme_console, kb["id"], f"rr-{api}")["rerank_mode"] == "pointwise"
    upstream.script(route, scores([0.1] * (len(plain) - 1) + [0.9]))
    reranked = found(acme_console, kb["id"], rerank=True)
    assert reranked[0]["chunk_id"] == plain[-1]["chunk_id"]
    assert reranked[0]["scores"]["rerank"] == pytest.approx(0.9)
    assert reranked[0]["score"] == pytest.approx(0.9)
    sent = upstream.requests_for(route)[-1].body
    if api == "score":
        assert sent["text_1"] == QUERY and len(sent["text_2"]) == len(plain)
    elif api == "tei":
        assert sent["query"] == QUERY and len(sent["texts"]) == len(plain)
    else:
        assert sent["model"] == "BAAI/bge-reranker-v2-m3" and len(sent["documents"]) == len(plain)
    flush_usage()
    [call] = UsageRecord.objects.filter(capability="rerank")
    assert (call.model, call.surface, call.status) == (f"rr-{api}", "retrieval", "ok")
    assert call.input_tokens > 0


def test_the_score_threshold_applies_to_the_rerank_score(acme_console, kb, upstream):
    use(acme_console, kb["id"], "rr-rerank")
    plain = found(acme_console, kb["id"])
    upstream.script("rerank", scores([0.8] + [0.05] * (len(plain) - 1)))
    kept = found(acme_console, kb["id"], rerank=True, score_threshold=0.5)
    assert [hit["chunk_id"] for hit in kept] == [plain[0]["chunk_id"]]


@pytest.mark.parametrize(
    ("reply", "status", "code"),
    [
        (error(500, "CUDA out of memory"), 502, "InternalError.Upstream"),
        (error(503, "loading the model"), 502, "InternalError.Upstream"),
        (error(400, "input is too long"), 400, None),
        (error(429, "slow down", retry_after=2), 429, "Throttling"),
        (slow(4), 504, "RequestTimeOut"),
        (hang_up(), 502, "InternalError.UpstreamUnreachable"),
    ],
)
def test_a_failing_rerank_server_is_a_clean_error(acme_console, kb, upstream, reply, status, code):
    use(acme_console, kb["id"], "rr-rerank")
    upstream.script("rerank", reply)
    response = hit_test(acme_console, kb["id"], mode="fulltext", rerank=True)
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code if code else body["code"].startswith("InvalidParameter")
    assert "127.0.0.1" not in body["message"] and "CUDA" not in body["message"]
    flush_usage()
    [call] = UsageRecord.objects.filter(capability="rerank")
    assert call.status == "error"


def test_a_rerank_server_answering_nonsense_is_a_502(acme_console, kb, upstream):
    from tests.upstream import raw

    use(acme_console, kb["id"], "rr-score")
    upstream.script("score", raw(200, {"data": [{"index": 99, "score": 1.0}]}))
    response = hit_test(acme_console, kb["id"], mode="fulltext", rerank=True)
    assert response.status_code == 502, response.content


# --- listwise rerank with a chat model ----------------------------------------------------------


def _passages(request: RecordedRequest) -> list[int]:
    prompt = request.body["messages"][-1]["content"]
    return [int(n) for n in re.findall(r"^\[(\d+)\]", prompt, re.MULTILINE)]


def reversed_order(request: RecordedRequest) -> Text:
    """The judge's answer: the passages it was shown, last first."""
    return text(json.dumps(list(reversed(_passages(request)))))


def test_a_chat_model_reorders_the_hits_listwise(acme_console, kb, upstream):
    plain = found(acme_console, kb["id"])
    changed = use(acme_console, kb["id"], "judge", "listwise")
    assert (changed["rerank_model"], changed["rerank_mode"]) == ("judge", "listwise")
    upstream.script("chat", reversed_order)
    reranked = found(acme_console, kb["id"], rerank=True)
    assert [hit["chunk_id"] for hit in reranked] == [hit["chunk_id"] for hit in reversed(plain)]
    count = len(plain)
    assert [hit["score"] for hit in reranked] == pytest.approx(
        [(count - rank) / count for rank in range(count)]
    )
    assert reranked[0]["scores"]["rerank"] == 1.0
    [asked] = upstream.requests_for("chat")
    assert asked.body["model"] == "up-judge" and asked.body["temperature"] == 0
    assert QUERY in asked.body["messages"][-1]["content"]
    assert _passages(asked) == list(range(1, count + 1))
    flush_usage()
    [call] = UsageRecord.objects.filter(capability="chat")
    assert (call.model, call.surface, call.status) == ("judge", "retrieval", "ok")
    assert call.input_tokens > 0 and call.output_tokens > 0


def test_a_partial_answer_with_strays_keeps_the_rest_in_order(acme_console, kb, upstream):
    plain = found(acme_console, kb["id"])
    use(acme_console, kb["id"], "judge", "listwise")
    # Passage 3 first, then an unknown number, a repeat and a word; the rest follow as found.
    upstream.script("chat", text('<think>3 looks best</think>Sure: [3, 99, 3, "x", 0]'))
    reranked = [hit["chunk_id"] for hit in found(acme_console, kb["id"], rerank=True)]
    ids = [hit["chunk_id"] for hit in plain]
    assert reranked == [ids[2], *ids[:2], *ids[3:]]


def test_an_answer_without_an_order_keeps_the_order(acme_console, kb, upstream, caplog):
    plain = found(acme_console, kb["id"])
    use(acme_console, kb["id"], "judge", "listwise")
    upstream.script("chat", text("I am not able to rank these passages."))
    with caplog.at_level(logging.WARNING, logger="plugins.listwise_rerank"):
        reranked = found(acme_console, kb["id"], rerank=True)
    assert [hit["chunk_id"] for hit in reranked] == [hit["chunk_id"] for hit in plain]
    assert reranked[0]["scores"]["rerank"] == 1.0
    assert "original order is kept" in caplog.text


@pytest.mark.parametrize(
    ("reply", "status"), [(error(500, "boom"), 502), (slow(4), 504), (error(401, "no"), 502)]
)
def test_a_failing_chat_reranker_is_a_clean_error(acme_console, kb, upstream, reply, status):
    use(acme_console, kb["id"], "judge", "listwise")
    upstream.script("chat", reply)
    response = hit_test(acme_console, kb["id"], mode="fulltext", rerank=True)
    assert response.status_code == status, response.content
    assert "boom" not in response.json()["message"]


# --- which models may rerank ------------------------------------------------------------------


def test_another_workspaces_model_cannot_be_the_reranker(acme_console, kb):
    for change in (
        {"rerank_model": "globex-judge", "rerank_mode": "listwise"},
        {"rerank_model": "globex-judge"},
    ):
        response = acme_console.patch(f"/knowledge-bases/{kb['id']}", change)
        assert response.status_code == 400, response.content
        assert "not available to this workspace" in response.json()["message"]
    response = acme_console.post(
        "/knowledge-bases",
        {"name": "Other", "rerank_model": "globex-judge", "rerank_mode": "listwise"},
    )
    assert response.status_code == 400
    assert acme_console.get(f"/knowledge-bases/{kb['id']}").json()["rerank_model"] is None


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"rerank_model": "judge"}, "not a rerank model"),  # pointwise by default
        ({"rerank_model": "rr-rerank", "rerank_mode": "listwise"}, "not a chat model"),
        ({"rerank_model": "judge", "rerank_mode": "sideways"}, "rerank_mode"),
    ],
)
def test_the_reranker_must_fit_the_mode(acme_console, kb, change, says):
    response = acme_console.patch(f"/knowledge-bases/{kb['id']}", change)
    assert response.status_code in (400, 422), response.content
    assert says in response.content.decode()


def test_switching_the_mode_checks_the_model_kept(acme_console, kb):
    use(acme_console, kb["id"], "rr-rerank")
    response = acme_console.patch(f"/knowledge-bases/{kb['id']}", {"rerank_mode": "listwise"})
    assert response.status_code == 400
    assert "not a chat model" in response.json()["message"]
    both = use(acme_console, kb["id"], "judge", "listwise")
    assert (both["rerank_model"], both["rerank_mode"]) == ("judge", "listwise")
    cleared = use(acme_console, kb["id"], None)
    assert (cleared["rerank_model"], cleared["rerank_mode"]) == (None, "listwise")


def test_a_knowledge_base_is_created_with_a_listwise_reranker(acme_console, rerankers):
    made = create_kb(acme_console, "Listwise", rerank_model="judge", rerank_mode="listwise")
    assert (made["rerank_model"], made["rerank_mode"]) == ("judge", "listwise")
    plain = create_kb(acme_console, "Plain")
    assert (plain["rerank_model"], plain["rerank_mode"]) == (None, "pointwise")
