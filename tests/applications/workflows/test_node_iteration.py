"""The iteration node: its inside runs once per item (in turn, or several at once within
its concurrency), and the output it names is collected in item order."""

import pytest

from apps.applications.events import NodeFinished
from apps.applications.models import Run
from apps.applications.workflow.engine import WorkflowNodeFailed
from tests.applications.workflows.conftest import (
    chain,
    definition,
    finished,
    node,
    node_outputs,
    run,
)
from tests.upstream import error, slow
from tests.upstream import text as reply

pytestmark = pytest.mark.django_db

TOPICS = ["apples", "pears", "plums", "figs", "limes"]


def inside(node_id: str, type_: str, **data) -> dict:
    return {**node(node_id, type_, **data), "parent": "loop"}


def looping(concurrency: int = 1, items: str = "start.topics", **inner: str) -> dict:
    """start (topics) → loop [write: an LLM call per topic] → end (the results)."""
    return definition(
        [
            node("start", "start", variables=[{"name": "topics", "type": "array"}]),
            node("loop", "iteration", items=items, concurrency=concurrency, output="write.text"),
            inside(
                "write",
                "llm",
                model="agent-chat",
                prompt=inner.get("prompt", "#{{ loop.index }}: {{ loop.item }}"),
            ),
            node("end", "end", output="{{ loop.results }}"),
        ],
        chain("start", "loop", "end"),
    )


def answer_each(delay=lambda prompt: 0.0):
    """A reply per request: "done <prompt>", after ``delay(prompt)`` seconds."""

    def answer(request):
        prompt = request.body["messages"][-1]["content"]
        return slow(delay(prompt), reply(f"done {prompt}"))

    return answer


def most_at_once(requests) -> int:
    """The most requests the upstream was answering at the same moment."""
    moments = sorted(
        [(r.received_at, 1) for r in requests] + [(r.finished_at, -1) for r in requests]
    )
    busiest = now = 0
    for _, change in moments:
        now += change
        busiest = max(busiest, now)
    return busiest


def test_items_run_one_after_another_by_default(workflow_app, upstream):
    upstream.script("chat", *[answer_each()] * 3)
    events = run(workflow_app(looping()), inputs={"topics": TOPICS[:3]})
    results = node_outputs(events)["loop"]["results"]
    assert results == ["done #0: apples", "done #1: pears", "done #2: plums"]
    assert finished(events).text == '["done #0: apples", "done #1: pears", "done #2: plums"]'
    assert most_at_once(upstream.requests_for("chat")) == 1
    record = Run.objects.get()
    assert record.status == "succeeded"
    inner = [s.node_id for s in record.steps.all() if s.kind == "node" and s.node_id == "write"]
    assert len(inner) == 3


def test_concurrent_items_stay_in_item_order_and_within_the_bound(workflow_app, upstream):
    # The first items answer slowest, so they finish last.
    slowest_first = answer_each(lambda prompt: 0.5 - 0.1 * int(prompt[1]))
    upstream.script("chat", *[slowest_first] * len(TOPICS))
    events = run(workflow_app(looping(concurrency=2)), inputs={"topics": TOPICS})
    results = node_outputs(events)["loop"]["results"]
    assert results == [f"done #{i}: {topic}" for i, topic in enumerate(TOPICS)]
    requests = upstream.requests_for("chat")
    assert len(requests) == len(TOPICS)
    assert most_at_once(requests) == 2
    # Each item's inner node is announced on the run's stream, from whichever thread ran it.
    inner = [e for e in events if isinstance(e, NodeFinished) and e.node_id == "write"]
    assert sorted(e.outputs["text"] for e in inner) == results
    assert Run.objects.get().status == "succeeded"


def test_an_empty_list_gives_no_results_and_runs_nothing_inside(workflow_app, upstream):
    events = run(workflow_app(looping(concurrency=3)), inputs={"topics": []})
    assert node_outputs(events)["loop"] == {"results": []}
    assert upstream.requests_for("chat") == []


def test_items_may_be_a_path_into_an_object(workflow_app, upstream):
    upstream.script("chat", *[answer_each()] * 2)
    data = looping(items="start.plan.steps")
    data["nodes"][0]["data"]["variables"] = [{"name": "plan", "type": "object"}]
    events = run(workflow_app(data), inputs={"plan": {"steps": ["wash", "dry"]}})
    assert node_outputs(events)["loop"]["results"] == ["done #0: wash", "done #1: dry"]


def test_a_path_to_a_missing_key_fails_clearly(workflow_app):
    data = looping(items="start.plan.steps")
    data["nodes"][0]["data"]["variables"] = [{"name": "plan", "type": "object"}]
    with pytest.raises(WorkflowNodeFailed, match=r"start.plan has no key 'steps'"):
        run(workflow_app(data), inputs={"plan": {"stages": []}})


def test_a_value_that_is_not_a_list_fails_the_node(workflow_app, upstream):
    data = looping()
    data["nodes"][0]["data"]["variables"] = [{"name": "topics", "type": "string"}]
    with pytest.raises(
        WorkflowNodeFailed,
        match=r"Node 'loop' \(iteration\): items must be an array; start.topics is a string",
    ):
        run(workflow_app(data), inputs={"topics": "apples, pears"})
    assert upstream.requests_for("chat") == []
    assert Run.objects.get().status == "failed"


@pytest.mark.parametrize("concurrency", [1, 3])
def test_a_failing_item_fails_the_node_naming_the_item(workflow_app, upstream, concurrency):
    def fail_on_pears(request):
        prompt = request.body["messages"][-1]["content"]
        return error(400, "no pears today") if "pears" in prompt else reply("ok")

    upstream.script("chat", *[fail_on_pears] * 3)
    failed = r"Node 'loop' \(iteration\): item 1 failed: "
    with pytest.raises(WorkflowNodeFailed, match=failed) as e:
        run(workflow_app(looping(concurrency)), inputs={"topics": TOPICS[:3]})
    assert "no pears today" in e.value.message
    record = Run.objects.get()
    assert (record.status, record.error_code) == ("failed", "WorkflowNodeFailed")
    assert "item 1 failed" in record.error_message
    inner = [s for s in record.steps.all() if s.kind == "node" and s.node_id == "write"]
    assert "failed" in [s.output["status"] for s in inner]
