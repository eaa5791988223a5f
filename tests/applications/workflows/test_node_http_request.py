"""The HTTP request node: a request rendered from the variables, sent through the SSRF guard
to a real server on 127.0.0.1 (allowed for these tests only, as the HTTP tools' tests do);
internal addresses refused, failures named without the credentials sent."""

import json

import pytest
from pydantic import ValidationError

from apps.applications.models import Run
from apps.applications.workflow.engine import WorkflowNodeFailed
from apps.applications.workflow.nodes import http_request
from apps.applications.workflow.nodes.http_request import HttpRequest, HttpRequestSettings
from plugins import safe_http
from tests.applications.workflows.conftest import chain, definition, node, node_outputs, run, text
from tests.http_tools.conftest import upstream_api  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db

SECRET = "tok-8c1f3e5a9b"


def requesting(**settings) -> dict:
    """start (a text input ``key``) → the request → end (its status)."""
    return definition(
        [
            node(
                "start", "start", variables=[{"name": "key", "type": "string", "default": SECRET}]
            ),
            node("call", "http_request", **settings),
            node("end", "end", output="{{ call.status_code }}"),
        ],
        chain("start", "call", "end"),
    )


def test_a_request_rendered_from_the_variables(workflow_app, upstream_api):  # noqa: F811
    app = workflow_app(
        requesting(
            method="POST",
            url=upstream_api.base_url + "/orders/{{ sys.query }}",
            headers={"X-Api-Key": "{{ start.key }}", "Accept": "application/json"},
            query={"lang": "zh", "who": "{{ sys.query }}"},
            body='{"note": "{{ sys.query }}", "count": 2}',
        )
    )
    events = run(app, "A17")
    outputs = node_outputs(events)["call"]
    assert outputs["status_code"] == 200
    assert outputs["json"] == {"ok": True, "city": "杭州", "method": "POST", "path": "/orders/A17"}
    assert json.loads(outputs["body"]) == outputs["json"]
    assert outputs["headers"]["content-type"] == "application/json"
    assert text(events) == "200"
    received = upstream_api.last
    assert received.method == "POST" and received.path == "/orders/A17"
    assert received.query == {"lang": ["zh"], "who": ["A17"]}
    assert received.headers["x-api-key"] == SECRET
    assert received.json() == {"note": "A17", "count": 2}
    [step] = [s for s in Run.objects.get().steps.all() if s.node_id == "call"]
    assert step.output["outputs"]["status_code"] == 200


def test_an_error_status_is_an_output_not_a_failure(workflow_app, upstream_api):  # noqa: F811
    events = run(workflow_app(requesting(url=upstream_api.base_url + "/fail")))
    outputs = node_outputs(events)["call"]
    assert outputs["status_code"] == 500
    assert outputs["body"] == "database exploded: trace 42"
    assert outputs["json"] is None
    assert Run.objects.get().status == "succeeded"


@pytest.mark.parametrize(
    ("url", "refusal"),
    [
        ("http://10.0.0.7/admin", "'10.0.0.7': it is a private address"),
        ("http://{{ sys.query }}/", "it is a loopback address"),
        ("http://169.254.169.254/latest/meta-data", "cloud metadata endpoint"),
    ],
)
def test_an_internal_address_is_refused(workflow_app, monkeypatch, url, refusal):
    monkeypatch.delenv(safe_http.ALLOWED_NETWORKS_ENV, raising=False)
    app = workflow_app(requesting(url=url))
    with pytest.raises(WorkflowNodeFailed, match=r"Node 'call' \(http_request\): Refused") as e:
        run(app, "127.0.0.1:9")
    assert refusal in e.value.message
    assert Run.objects.get().status == "failed"


def test_a_time_out_fails_the_node(workflow_app, upstream_api):  # noqa: F811
    app = workflow_app(requesting(url=upstream_api.base_url + "/slow", timeout_seconds=0.5))
    with pytest.raises(WorkflowNodeFailed, match=r"did not answer within 0\.5 seconds"):
        run(app)


def test_a_network_error_fails_the_node(workflow_app, upstream_api):  # noqa: F811
    app = workflow_app(requesting(url="http://127.0.0.1:9/"))
    with pytest.raises(WorkflowNodeFailed, match=r"Could not connect to '127\.0\.0\.1'"):
        run(app)


def test_a_failure_names_no_credential(workflow_app):
    app = workflow_app(
        requesting(
            url="ftp://files.example.com/data?key={{ start.key }}",
            headers={"Authorization": "Bearer {{ start.key }}"},
        )
    )
    with pytest.raises(WorkflowNodeFailed, match="Only http and https") as e:
        run(app)
    assert SECRET not in e.value.message and "key=***" in e.value.message
    assert SECRET not in Run.objects.get().steps.get(node_id="call").error


def test_a_response_over_the_limit_fails_the_node(workflow_app, upstream_api, monkeypatch):  # noqa: F811
    monkeypatch.setattr(http_request, "RESPONSE_LIMIT", 10_000)
    app = workflow_app(requesting(url=upstream_api.base_url + "/big"))
    with pytest.raises(WorkflowNodeFailed, match="larger than the limit of 10,000 bytes"):
        run(app)


def test_a_body_that_is_not_json_is_sent_as_text(workflow_app, upstream_api):  # noqa: F811
    app = workflow_app(
        requesting(method="POST", url=upstream_api.base_url + "/x", body="name={{ sys.query }}")
    )
    run(app, "tea")
    received = upstream_api.last
    assert received.body == b"name=tea"
    assert received.headers["content-type"] == "text/plain; charset=utf-8"


def test_a_text_body_keeps_the_content_type_given(workflow_app, upstream_api):  # noqa: F811
    app = workflow_app(
        requesting(
            method="POST",
            url=upstream_api.base_url + "/x",
            body="name={{ sys.query }}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    )
    run(app, "tea")
    assert upstream_api.last.headers["content-type"] == "application/x-www-form-urlencoded"
    assert upstream_api.last.body == b"name=tea"


def test_a_header_value_with_a_line_break_fails_the_node(workflow_app, upstream_api):  # noqa: F811
    app = workflow_app(
        requesting(url=upstream_api.base_url + "/x", headers={"X-Note": "{{ sys.query }}"})
    )
    with pytest.raises(WorkflowNodeFailed, match="'X-Note' has a line break"):
        run(app, "one\r\nX-Injected: yes")
    assert upstream_api.received == []


def test_reads_name_each_template():
    settings = HttpRequestSettings.model_validate(
        {
            "url": "https://api.example.com/{{ a.id }}",
            "headers": {"X-Key": "{{ b.key }}"},
            "query": {"q": "{{ sys.query }}"},
            "body": '{"n": {{ c.n }}}',
        }
    )
    assert [(r.reference, r.where) for r in HttpRequest().reads(settings)] == [
        ("a.id", "url"),
        ("b.key", "headers.X-Key"),
        ("sys.query", "query.q"),
        ("c.n", "body"),
    ]


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        ({"method": "TRACE"}, "method"),
        ({"timeout_seconds": 61}, "less than or equal to 60"),
        ({"headers": {"Host": "internal"}}, "set by the HTTP client"),
        ({"headers": {"Proxy-Authorization": "x"}}, "set by the HTTP client"),
        ({"headers": {"bad name": "x"}}, "not a valid header name"),
        ({"url": ""}, "at least 1 character"),
    ],
)
def test_bad_settings_are_refused(data, complaint):
    with pytest.raises(ValidationError, match=complaint):
        HttpRequestSettings.model_validate({"url": "https://api.example.com/", **data})
