"""One error shape everywhere, and a request id on every response and log line."""

import logging

import pytest
from django.test import Client

from apps.accounts import selectors
from apps.accounts.services import create_api_key
from kernel.request_id import RequestIdLogFilter
from tests.console import ConsoleClient

pytestmark = pytest.mark.django_db


def assert_error_shape(response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"code", "message", "request_id"}
    assert body["code"] == code
    assert body["message"]
    assert body["request_id"] == response["X-Request-Id"]


def test_malformed_json_is_a_400(root):
    response = ConsoleClient().as_user(root).post("/workspaces", raw="{not json")
    assert_error_shape(response, 400, "InvalidParameter")
    assert "JSON" in response.json()["message"]


def test_an_unreadable_multipart_body_is_a_400(root, acme, alice):
    """No boundary in a multipart/form-data body (found by tests/fuzz): 400, not 500, whether
    the CSRF check or an upload's parameters read it first."""
    console = ConsoleClient(enforce_csrf=True).as_user(root)
    console.client.cookies["csrftoken"] = "k" * 32
    response = console.client.generic(
        "POST", "/console/api/workspaces", data=b'{"name": "x"}', content_type="multipart/form-data"
    )
    assert_error_shape(response, 400, "InvalidParameter")
    assert "multipart" in response.json()["message"]
    key = create_api_key(acme, name="program", created_by=alice).plaintext
    upload = Client().generic(
        "POST",
        "/compatible-mode/v1/files",
        data=b"purpose=batch",
        content_type="multipart/form-data",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert upload.status_code == 400
    assert upload.json()["error"]["type"] == "invalid_request_error"


def test_validation_errors_name_the_field(root):
    response = ConsoleClient().as_user(root).post("/workspaces", {"name": 42, "slug": "UPPER"})
    assert_error_shape(response, 400, "InvalidParameter")
    message = response.json()["message"]
    assert "name:" in message and "slug:" in message


def test_unknown_workspace_is_a_404(alice):
    assert_error_shape(ConsoleClient().as_user(alice, "ghost").get("/members"), 404, "NotFound")


def test_wrong_role_is_a_403(vera):
    response = ConsoleClient().as_user(vera, "acme").patch("/workspace", {"name": "Mine now"})
    assert_error_shape(response, 403, "AccessDenied")


def test_missing_and_invalid_credentials_are_401s(acme):
    assert_error_shape(ConsoleClient().get("/workspaces"), 401, "NotAuthenticated")
    bad = ConsoleClient().with_key("sk-" + "f" * 48).get("/workspaces")
    assert_error_shape(bad, 401, "InvalidApiKey")


def test_duplicate_slug_is_a_409(root, acme):
    response = ConsoleClient().as_user(root).post("/workspaces", {"name": "A", "slug": "acme"})
    assert_error_shape(response, 409, "Conflict")


def test_an_unknown_api_path_is_a_json_404(client):
    assert_error_shape(client.get("/console/api/no-such-thing"), 404, "NotFound")
    assert_error_shape(client.get("/api/v1/nothing-here"), 404, "NotFound")


def test_a_wrong_method_is_a_405(alice):
    response = ConsoleClient().as_user(alice, "acme").request("PUT", "/members")
    assert_error_shape(response, 405, "MethodNotAllowed")


class Captured(logging.Handler):
    """A handler configured like the console one: it runs the request-id filter."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.addFilter(RequestIdLogFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def captured_logs():
    handler = Captured()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler.records
    root.removeHandler(handler)


def test_an_unexpected_failure_is_a_500_without_details(alice, monkeypatch, captured_logs):
    def explode(workspace):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(selectors, "members_of", explode)
    response = ConsoleClient().as_user(alice, "acme").get("/members")
    assert_error_shape(response, 500, "InternalError")
    assert "hunter2" not in response.content.decode()
    record = next(r for r in captured_logs if r.name == "kernel.errors")
    assert record.request_id == response["X-Request-Id"]


@pytest.mark.django_db
def test_every_response_carries_a_request_id(client):
    first = client.get("/console/api/health")
    second = client.get("/")
    assert len(first["X-Request-Id"]) == 32
    assert first["X-Request-Id"] != second["X-Request-Id"]


def test_a_callers_request_id_is_kept_when_safe(client):
    kept = client.get("/console/api/health", headers={"X-Request-Id": "trace-abc.123"})
    assert kept["X-Request-Id"] == "trace-abc.123"
    replaced = client.get("/console/api/health", headers={"X-Request-Id": "evil\nline"})
    assert replaced["X-Request-Id"] != "evil\nline"
    assert "\n" not in replaced["X-Request-Id"]


def test_log_lines_carry_the_request_id(alice, monkeypatch, captured_logs):
    original = selectors.members_of

    def logging_members_of(workspace):
        logging.getLogger("apps.accounts").warning("listing members")
        return original(workspace)

    monkeypatch.setattr(selectors, "members_of", logging_members_of)
    response = ConsoleClient().as_user(alice, "acme").get("/members")
    [record] = [r for r in captured_logs if r.getMessage() == "listing members"]
    assert record.request_id == response["X-Request-Id"]
    outside = logging.LogRecord("x", logging.INFO, __file__, 1, "after", None, None)
    RequestIdLogFilter().filter(outside)
    assert outside.request_id == "-"
