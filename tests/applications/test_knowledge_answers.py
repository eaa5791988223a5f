"""An app answering from its knowledge bases: automatic retrieval before the first model
call, the ``knowledge_search`` tool, citations that match ``doc_references``, sources shown
or hidden, and the caller's ``rag_options`` narrowing the search."""

import dashscope
import httpx
import pytest
from dashscope import Application

from apps.model_endpoints.services import revoke_grant
from apps.usage.models import Quota
from tests.applications.conftest import make_app, play, publish
from tests.knowledge.conftest import create_kb, upload
from tests.upstream import text, tool_call

pytestmark = pytest.mark.django_db(transaction=True)

POLICY = (
    b"# Travel policy\n\n"
    b"Employees book economy class for flights under six hours.\n\n"
    b"## Hotels\n\nHotels are reimbursed up to 150 euros a night in Europe.\n"
)
SECURITY = b"# Security\n\nLaptops must use full disk encryption and a screen lock.\n"


@pytest.fixture
def handbook(acme_console):
    kb = create_kb(acme_console, name="Handbook", chunking={"chunk_size": 40, "chunk_overlap": 0})
    upload(acme_console, kb["id"], {"travel.md": POLICY}, tags="hr")
    upload(acme_console, kb["id"], {"security.md": SECURITY}, tags="it")
    return kb


def _knowledge(kb, **settings):
    return {"knowledge_base_ids": [kb["id"]], "top_k": 3, **settings}


def test_an_answer_cites_the_retrieved_passage(
    acme_console, handbook, upstream, acme_key, platform_url
):
    app = make_app(acme_console, knowledge=_knowledge(handbook))
    publish(acme_console, app["id"])

    def cite_the_hotel_source(request):
        system = request.body["messages"][0]["content"]
        number = next(
            line.split("]")[0].lstrip("[")
            for line in system.splitlines()
            if line.startswith("[") and "travel.md" in line and "Hotels" in system
        )
        return text(f"Up to 150 euros a night.<ref>[{number}]</ref>")

    upstream.script("chat", cite_the_hotel_source)
    dashscope.base_http_api_url = f"{platform_url}/api/v1"
    response = Application.call(
        app_id=app["id"], api_key=acme_key, prompt="How much is a hotel reimbursed a night?"
    )
    assert response.status_code == 200, response
    answer = response.output.text
    cited = int(answer.split("<ref>[")[1].split("]")[0])
    reference = response.output.doc_references[cited - 1]
    assert reference.index_id == str(cited)
    assert reference.doc_name == "travel.md"
    assert "150 euros" in reference.text
    assert [r.index_id for r in response.output.doc_references] == [
        str(n) for n in range(1, len(response.output.doc_references) + 1)
    ]
    system = upstream.requests_for("chat")[-1].body["messages"][0]["content"]
    assert "<ref>[n]</ref>" in system and "150 euros" in system


def test_sources_hidden(acme_console, handbook, upstream):
    app = make_app(acme_console, knowledge=_knowledge(handbook, show_sources=False))
    out = play(acme_console, app["id"], "hotel reimbursed")
    assert out["doc_references"] is None
    system = upstream.requests_for("chat")[-1].body["messages"][0]["content"]
    assert "150 euros" in system and "<ref>" not in system


def test_the_retrieval_is_a_thought_and_a_step(acme_console, handbook, upstream):
    app = make_app(acme_console, knowledge=_knowledge(handbook))
    out = play(acme_console, app["id"], "disk encryption")
    [thought] = out["thoughts"]
    assert thought["action_type"] == "agentRag"
    assert "encryption" in thought["observation"]
    run_id = acme_console.get(f"/apps/{app['id']}/runs").json()["items"][0]["id"]
    steps = acme_console.get(f"/apps/{app['id']}/runs/{run_id}").json()["steps"]
    assert [s["kind"] for s in steps] == ["retrieval", "model"]
    assert steps[0]["output"]["passages"][0]["document_name"] == "security.md"


def test_the_knowledge_search_tool_numbers_its_sources_after_the_first(
    acme_console, handbook, upstream
):
    app = make_app(acme_console, knowledge=_knowledge(handbook, top_k=1, as_tool=True))
    upstream.script(
        "chat",
        tool_call("knowledge_search", {"query": "laptop disk encryption", "top_k": 1}),
        text("Encrypt the disk.<ref>[2]</ref>"),
    )
    out = play(acme_console, app["id"], "hotel costs?")
    first_request = upstream.requests_for("chat")[0].body
    assert "knowledge_search" in [t["function"]["name"] for t in first_request["tools"]]
    observation = upstream.requests_for("chat")[-1].body["messages"][-1]["content"]
    assert observation.startswith("[2] security.md")
    assert [r["doc_name"] for r in out["doc_references"]] == ["travel.md", "security.md"]
    assert out["thoughts"][1]["action"] == "knowledge_search"


def test_rag_options_narrow_the_search(acme_console, handbook, upstream, acme_key, platform_url):
    other = create_kb(acme_console, name="Other")
    upload(acme_console, other["id"], {"other.md": b"# Other\n\nHotels elsewhere cost 90 euros.\n"})
    app = make_app(acme_console, knowledge=_knowledge(handbook))
    publish(acme_console, app["id"])
    dashscope.base_http_api_url = f"{platform_url}/api/v1"

    tagged = Application.call(
        app_id=app["id"], api_key=acme_key, prompt="hotel laptop", rag_options={"tags": ["it"]}
    )
    assert {r.doc_name for r in tagged.output.doc_references} == {"security.md"}

    elsewhere = Application.call(
        app_id=app["id"],
        api_key=acme_key,
        prompt="hotel",
        rag_options={"pipeline_ids": [other["id"]]},
    )
    assert {r.doc_name for r in elsewhere.output.doc_references} == {"other.md"}

    unknown = Application.call(
        app_id=app["id"],
        api_key=acme_key,
        prompt="hotel",
        rag_options={"pipeline_ids": ["00000000-0000-0000-0000-000000000009"]},
    )
    assert (unknown.status_code, unknown.code) == (400, "InvalidParameter")


def _stream_call(platform_url: str, app_id: str, key: str) -> httpx.Response:
    return httpx.post(
        f"{platform_url}/api/v1/apps/{app_id}/completion",
        json={"input": {"prompt": "How much is a hotel?"}, "parameters": {"has_thoughts": True}},
        headers={"Authorization": f"Bearer {key}", "X-DashScope-SSE": "enable"},
        timeout=30,
    )


def test_a_refused_chat_model_fails_before_the_retrieval_thought_is_sent(
    acme_console, handbook, upstream, acme_key, platform_url, acme, chat
):
    """With auto-retrieval the retrieval thought comes first, but it is held back until
    the chat model has begun to answer: a missing model or a spent quota is the
    response's status, not an error frame inside a 200 stream."""
    app = make_app(acme_console, knowledge=_knowledge(handbook))
    publish(acme_console, app["id"])

    Quota.objects.create(workspace=acme, endpoint=chat["native"], requests_per_minute=1)
    upstream.script("chat", text("Up to 150 euros."))
    answered = _stream_call(platform_url, app["id"], acme_key)
    assert answered.status_code == 200
    assert answered.text.index("thoughts") < answered.text.index("Up to 150 euros")
    throttled = _stream_call(platform_url, app["id"], acme_key)
    assert throttled.status_code == 429, throttled.text
    assert throttled.headers["content-type"] == "application/json"
    assert throttled.json()["code"] == "Throttling.RateQuota"
    assert int(throttled.headers["retry-after"]) >= 1

    revoke_grant(chat["native"], acme)
    missing = _stream_call(platform_url, app["id"], acme_key)
    assert (missing.status_code, missing.json()["code"]) == (404, "ModelNotFound")
    assert "event:" not in missing.text
