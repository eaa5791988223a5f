"""The console's batch API: alice uploads and runs a batch for acme; bob (globex) sees none
of it; a viewer can look but the API decides what each role may do."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.batch.conftest import chat_line

pytestmark = pytest.mark.django_db(transaction=True)


def upload(console, lines: list[dict], name: str = "requests.jsonl"):
    content = "\n".join(json.dumps(line) for line in lines).encode()
    return console.client.post(
        "/console/api/batch-files",
        data={"file": SimpleUploadedFile(name, content), "purpose": "batch"},
        headers=console.headers,
    )


@pytest.fixture
def alice_console(console, alice, granted):
    return console.as_user(alice, "acme")


def test_alice_runs_a_batch_from_the_console(alice_console, upstream):
    response = upload(alice_console, [chat_line("a", "hello"), chat_line("b", "there")])
    assert response.status_code == 201, response.content
    file = response.json()
    assert (file["line_count"], file["purpose"]) == (2, "batch")
    created = alice_console.post(
        "/batches",
        {
            "input_file_id": file["id"],
            "endpoint": "/v1/chat/completions",
            "completion_window": "24h",
            "metadata": {"team": "search"},
        },
    )
    assert created.status_code == 201, created.content
    batch = alice_console.get(f"/batches/{created.json()['id']}").json()
    assert batch["status"] == "completed"  # the suite runs tasks eagerly
    assert batch["request_counts"] == {"total": 2, "completed": 2, "failed": 0}
    assert batch["metadata"] == {"team": "search"}
    assert [b["id"] for b in alice_console.get("/batches").json()] == [batch["id"]]
    content = alice_console.get(f"/batch-files/{batch['output_file_id']}/content")
    assert content.status_code == 200
    assert content["Content-Disposition"].startswith("attachment")
    lines = [json.loads(line) for line in b"".join(content.streaming_content).splitlines()]
    assert [line["custom_id"] for line in lines] == ["a", "b"]
    outputs = alice_console.get("/batch-files?purpose=batch_output").json()
    assert [f["id"] for f in outputs] == [batch["output_file_id"]]


def test_console_upload_and_create_errors(alice_console):
    empty = upload(alice_console, [])
    assert empty.status_code == 400
    assert empty.json()["code"] == "empty_file"
    file = upload(alice_console, [chat_line("a", "x")]).json()
    bad = alice_console.post(
        "/batches",
        {"input_file_id": file["id"], "endpoint": "/v1/images", "completion_window": "24h"},
    )
    assert bad.status_code == 400
    assert "endpoint" in bad.json()["message"]


def test_bob_sees_nothing_of_acme(console, alice, bob, granted, upstream):
    alice_console = console.as_user(alice, "acme")
    file = upload(alice_console, [chat_line("a", "x")]).json()
    batch = alice_console.post(
        "/batches",
        {
            "input_file_id": file["id"],
            "endpoint": "/v1/chat/completions",
            "completion_window": "24h",
        },
    ).json()
    bob_console = console.as_user(bob, "globex")
    for method, path, payload in [
        ("GET", f"/batch-files/{file['id']}", None),
        ("GET", f"/batch-files/{file['id']}/content", None),
        ("DELETE", f"/batch-files/{file['id']}", None),
        ("GET", f"/batches/{batch['id']}", None),
        ("POST", f"/batches/{batch['id']}/cancel", None),
        (
            "POST",
            "/batches",
            {"input_file_id": file["id"], "endpoint": "/v1/chat/completions"},
        ),
    ]:
        response = bob_console.request(method, path, payload)
        assert response.status_code == 404, (method, path, response.content)
    assert bob_console.get("/batches").json() == []
    assert bob_console.get("/batch-files").json() == []


def test_a_viewer_may_read_batches(console, alice, vera, granted, upstream):
    file = upload(console.as_user(alice, "acme"), [chat_line("a", "x")]).json()
    viewer = console.as_user(vera, "acme")
    assert viewer.get(f"/batch-files/{file['id']}").status_code == 200
    assert viewer.get("/batches").status_code == 200


def test_usage_by_batch_sets_each_batch_apart_from_real_time_calls(
    alice_console, console, bob, upstream
):
    def run_batch(lines: list[dict]) -> str:
        file = upload(alice_console, lines).json()
        created = alice_console.post(
            "/batches",
            {"input_file_id": file["id"], "endpoint": "/v1/chat/completions"},
        )
        assert created.status_code == 201, created.content
        return created.json()["id"]

    big = run_batch([chat_line(f"r{i}", "hello") for i in range(3)])
    small = run_batch([chat_line("only", "hi")])
    real_time = alice_console.post(
        "/models/chat",
        {"model": "qwen-plus", "messages": [{"role": "user", "content": "x"}], "stream": False},
    )
    assert real_time.status_code == 200, real_time.content

    body = alice_console.get("/usage?group_by=batch").json()
    assert body["group_by"] == "batch"
    assert [(row["key"], row["requests"]) for row in body["rows"]] == [
        (big, 3),
        (small, 1),
        ("(no batch)", 1),
    ]
    assert sum(row["requests"] for row in body["rows"]) == body["totals"]["requests"] == 5
    other = console.as_user(bob, "globex").get("/usage?group_by=batch").json()
    assert other["rows"] == []
