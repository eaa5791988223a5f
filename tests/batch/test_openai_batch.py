"""The Batch API, called with the official ``openai`` SDK as Bailian's documentation does,
against the live platform, a real Celery worker and the scripted upstream."""

import json

import openai
import pytest

from apps.usage.models import UsageRecord
from apps.usage.services import flush_usage
from tests.batch.conftest import chat_line, jsonl, output_lines, wait_until_done
from tests.upstream import error, text

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_bailian_snippet(sdk, upstream, batch_worker):
    upstream.script(
        "chat",
        *[text(f"answer {i}", prompt_tokens=5, completion_tokens=2) for i in range(3)],
    )
    f = sdk.files.create(
        file=jsonl([chat_line(f"req-{i}", f"question {i}") for i in range(3)]), purpose="batch"
    )
    assert (f.purpose, f.filename, f.object) == ("batch", "requests.jsonl", "file")
    b = sdk.batches.create(
        input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert b.status == "validating"
    assert b.request_counts.total == 3
    b = wait_until_done(sdk, b.id)
    assert b.status == "completed"
    assert (b.request_counts.total, b.request_counts.completed, b.request_counts.failed) == (
        3,
        3,
        0,
    )
    assert b.model == "qwen-plus"
    assert (b.usage.input_tokens, b.usage.output_tokens) == (15, 6)
    assert b.in_progress_at and b.finalizing_at and b.completed_at and b.error_file_id is None
    out = sdk.files.content(b.output_file_id).text
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["custom_id"] for line in lines] == ["req-0", "req-1", "req-2"]
    assert {line["response"]["status_code"] for line in lines} == {200}
    answers = {line["response"]["body"]["choices"][0]["message"]["content"] for line in lines}
    assert answers == {"answer 0", "answer 1", "answer 2"}
    assert all(line["error"] is None and line["id"].startswith("batch_req_") for line in lines)
    # Every line went upstream as a real-time call would: the endpoint's model and defaults.
    sent = upstream.requests_for("chat")
    assert len(sent) == 3 and {r.body["model"] for r in sent} == {"up-chat"}
    assert {r.body["temperature"] for r in sent} == {0.3}
    # ...and was metered, tagged with the batch.
    flush_usage()
    usage = UsageRecord.objects.filter(batch_id=b.id)
    assert usage.count() == 3 and {u.surface for u in usage} == {"batch"}
    assert sum(u.input_tokens for u in usage) == 15
    assert all(u.api_key_id is not None for u in usage)


def test_an_embeddings_batch(sdk, upstream, batch_worker):
    requests = [
        {
            "custom_id": f"e{i}",
            "method": "POST",
            "url": "/v1/embeddings",
            "body": {"model": "text-embedding-v3", "input": [f"text {i}", "another"]},
        }
        for i in range(2)
    ]
    f = sdk.files.create(file=jsonl(requests), purpose="batch")
    b = sdk.batches.create(input_file_id=f.id, endpoint="/v1/embeddings", completion_window="24h")
    b = wait_until_done(sdk, b.id)
    assert b.status == "completed"
    lines = output_lines(sdk, b.output_file_id)
    assert [line["custom_id"] for line in lines] == ["e0", "e1"]
    body = lines[0]["response"]["body"]
    assert body["object"] == "list" and len(body["data"]) == 2
    assert len(body["data"][0]["embedding"]) == 64


def test_a_malformed_file_fails_the_batch_naming_lines_and_sends_nothing(
    sdk, upstream, batch_worker
):
    good = chat_line("a", "fine")
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps(chat_line("a", "same id again")),
        json.dumps({**chat_line("c", "x"), "method": "GET"}),
        json.dumps({**chat_line("d", "x"), "url": "/v1/embeddings"}),
        json.dumps(chat_line("e", "x", model="another-model")),
        json.dumps({"custom_id": "f", "method": "POST", "url": "/v1/chat/completions"}),
        json.dumps(["an", "array"]),
    ]
    upload = jsonl([])
    upload.write("\n".join(lines).encode())
    upload.seek(0)
    f = sdk.files.create(file=upload, purpose="batch")
    b = wait_until_done(
        sdk,
        sdk.batches.create(
            input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h"
        ).id,
    )
    assert b.status == "failed" and b.failed_at
    found = {(e.line, e.code) for e in b.errors.data}
    assert found == {
        (2, "invalid_json_line"),
        (3, "duplicate_custom_id"),
        (4, "invalid_method"),
        (5, "mismatched_url"),
        (6, "mismatched_model"),
        (7, "missing_required_parameter"),
        (8, "invalid_json_line"),
    }
    assert all(e.message for e in b.errors.data)
    assert b.output_file_id is None and b.error_file_id is None
    assert upstream.requests_for("chat") == []


def test_a_model_the_workspace_was_not_granted_fails_the_batch(sdk, upstream, batch_worker):
    f = sdk.files.create(file=jsonl([chat_line("a", "hi", model="gpt-secret")]), purpose="batch")
    b = sdk.batches.create(
        input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    b = wait_until_done(sdk, b.id)
    assert b.status == "failed"
    [problem] = b.errors.data
    assert (problem.code, problem.line, problem.param) == ("model_not_found", 1, "body.model")
    assert upstream.requests_for("chat") == []


def test_failed_lines_go_to_the_error_file(sdk, upstream, batch_worker):
    def answer(request):  # lines run concurrently: answer by content, not by order
        if "bad words" in json.dumps(request.body):
            return error(
                400, "The prompt was refused by the upstream", code="data_inspection_failed"
            )
        return text("good")

    upstream.script("chat", answer, answer)
    requests = [
        chat_line("ok", "hello"),
        chat_line("refused", "bad words"),
        {**chat_line("no-messages", "x"), "body": {"model": "qwen-plus"}},
        chat_line("streamed", "x", stream=True),
    ]
    f = sdk.files.create(file=jsonl(requests), purpose="batch")
    b = sdk.batches.create(
        input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    b = wait_until_done(sdk, b.id)
    assert b.status == "completed"
    assert (b.request_counts.completed, b.request_counts.failed) == (1, 3)
    [good] = output_lines(sdk, b.output_file_id)
    assert good["custom_id"] == "ok"
    errors = {line["custom_id"]: line for line in output_lines(sdk, b.error_file_id)}
    assert set(errors) == {"refused", "no-messages", "streamed"}
    refused = errors["refused"]
    assert refused["response"]["status_code"] == 400
    assert refused["error"]["code"] == "data_inspection_failed"
    assert "The prompt was refused by the upstream" in refused["error"]["message"]
    assert errors["no-messages"]["error"]["code"] == "invalid_value"
    assert "messages" in errors["no-messages"]["error"]["message"]
    assert errors["streamed"]["response"]["body"]["error"]["param"] == "stream"
    assert len(upstream.requests_for("chat")) == 2  # the invalid bodies never went upstream


def test_retrieve_list_and_delete_files(sdk, batch_worker):
    first = sdk.files.create(file=jsonl([chat_line("a", "x")]), purpose="batch")
    second = sdk.files.create(file=jsonl([chat_line("b", "y")]), purpose="batch")
    assert sdk.files.retrieve(first.id).bytes == first.bytes
    assert [f.id for f in sdk.files.list()] == [second.id, first.id]
    page = sdk.files.list(limit=1)
    assert [f.id for f in page.data] == [second.id] and page.has_more
    assert [f.id for f in sdk.files.list(after=second.id)] == [first.id]
    assert json.loads(sdk.files.content(first.id).text)["custom_id"] == "a"
    deleted = sdk.files.delete(first.id)
    assert deleted.deleted and deleted.id == first.id
    with pytest.raises(openai.NotFoundError):
        sdk.files.retrieve(first.id)


def test_list_batches_newest_first_with_a_cursor(sdk, upstream, batch_worker):
    f = sdk.files.create(file=jsonl([chat_line("a", "x")]), purpose="batch")
    ids = [
        sdk.batches.create(
            input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h"
        ).id
        for _ in range(3)
    ]
    page = sdk.batches.list(limit=2)
    assert [b.id for b in page.data] == ids[::-1][:2] and page.has_more
    assert [b.id for b in sdk.batches.list(after=ids[1], limit=2)] == [ids[0]]
    for batch_id in ids:
        wait_until_done(sdk, batch_id)
