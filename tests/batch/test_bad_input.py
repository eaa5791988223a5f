"""Every kind of bad input to the Files and Batch API answers a 4xx in OpenAI's error shape,
and nothing is stored or run."""

import io

import openai
import pytest

from apps.batch.models import Batch, BatchFile
from tests.batch.conftest import chat_line, jsonl

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def named(content: bytes, name: str = "requests.jsonl") -> io.BytesIO:
    buffer = io.BytesIO(content)
    buffer.name = name
    return buffer


def refused_upload(sdk, upload, status: int, purpose: str = "batch") -> openai.APIStatusError:
    with pytest.raises(openai.APIStatusError) as caught:
        sdk.files.create(file=upload, purpose=purpose)
    assert caught.value.status_code == status
    assert not BatchFile.objects.exists()
    return caught.value


def test_upload_refuses_another_purpose(sdk):
    error = refused_upload(sdk, jsonl([chat_line("a", "x")]), 400, purpose="fine-tune")
    assert error.body["param"] == "purpose"
    assert "batch" in error.body["message"]


def test_upload_refuses_an_empty_file(sdk):
    error = refused_upload(sdk, named(b"\n  \n"), 400)
    assert error.body["code"] == "empty_file"


def test_upload_refuses_too_many_lines(sdk, settings):
    settings.BATCH_FILE_MAX_LINES = 3
    error = refused_upload(sdk, jsonl([chat_line(str(i), "x") for i in range(4)]), 400)
    assert error.body["code"] == "too_many_lines"
    assert "line 4" in error.body["message"]


def test_upload_refuses_a_line_too_long(sdk, settings):
    settings.BATCH_LINE_MAX_BYTES = 200
    lines = [chat_line("a", "short"), chat_line("b", "long " * 100)]
    error = refused_upload(sdk, jsonl(lines), 400)
    assert error.body["code"] == "line_too_long"
    assert "Line 2" in error.body["message"]


def test_upload_refuses_a_file_too_large(sdk, settings):
    settings.BATCH_FILE_MAX_BYTES = 100
    error = refused_upload(sdk, jsonl([chat_line("a", "x"), chat_line("b", "y")]), 413)
    assert error.body["code"] == "file_too_large"


def test_upload_without_a_file_is_refused(sdk, platform_url, granted):
    import httpx

    response = httpx.post(
        f"{platform_url}/compatible-mode/v1/files",
        headers={"Authorization": f"Bearer {granted['acme_key']}"},
        data={"purpose": "batch"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "file"


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"endpoint": "/v1/completions"}, "endpoint"),
        ({"completion_window": "1h"}, "completion_window"),
        ({"completion_window": "15d"}, "completion_window"),
        ({"completion_window": "soon"}, "completion_window"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
        ({"metadata": {"k": "v" * 513}}, "metadata"),
    ],
)
def test_create_refuses_bad_parameters(sdk, fields, param):
    f = sdk.files.create(file=jsonl([chat_line("a", "x")]), purpose="batch")
    arguments = {
        "input_file_id": f.id,
        "endpoint": "/v1/chat/completions",
        "completion_window": "24h",
        **fields,
    }
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.batches.create(**arguments)
    assert caught.value.body["param"] == param
    assert not Batch.objects.exists()


def test_create_accepts_windows_in_days_and_hours(sdk):
    f = sdk.files.create(file=jsonl([chat_line("a", "x")]), purpose="batch")
    for window in ("48h", "7d", "336h"):
        b = sdk.batches.create(
            input_file_id=f.id, endpoint="/v1/chat/completions", completion_window=window
        )
        assert b.completion_window == window
        assert b.expires_at - b.created_at in range(24 * 3600, 336 * 3600 + 2)


def test_create_refuses_an_unknown_file(sdk):
    with pytest.raises(openai.NotFoundError):
        sdk.batches.create(
            input_file_id="file-nope", endpoint="/v1/chat/completions", completion_window="24h"
        )


def test_an_output_file_is_not_an_input(sdk, upstream):
    f = sdk.files.create(file=jsonl([chat_line("a", "x")]), purpose="batch")
    done = sdk.batches.create(  # run at once: the suite's tasks are eager
        input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    done = sdk.batches.retrieve(done.id)
    assert done.status == "completed"
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.batches.create(
            input_file_id=done.output_file_id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
        )
    assert caught.value.body["param"] == "input_file_id"


def test_a_finished_batch_cannot_be_cancelled(sdk, upstream):
    f = sdk.files.create(file=jsonl([chat_line("a", "x")]), purpose="batch")
    b = sdk.batches.create(
        input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    with pytest.raises(openai.ConflictError) as caught:
        sdk.batches.cancel(b.id)
    assert caught.value.body["code"] == "batch_not_cancellable"
    assert sdk.batches.retrieve(b.id).status == "completed"


def test_the_input_of_a_running_batch_cannot_be_deleted(sdk, celery_not_eager):
    f = sdk.files.create(file=jsonl([chat_line("a", "x")]), purpose="batch")
    b = sdk.batches.create(
        input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    with pytest.raises(openai.ConflictError) as caught:
        sdk.files.delete(f.id)
    assert caught.value.body["code"] == "file_in_use"
    assert sdk.files.retrieve(f.id).id == f.id
    sdk.batches.cancel(b.id)
