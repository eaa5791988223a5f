"""A finished batch's output and error files, in OpenAI's batch output format.

One JSON line per answered request, in input order::

    {"id": "batch_req_...", "custom_id": "...",
     "response": {"status_code": 200, "request_id": "...", "body": {...}}, "error": null}

Lines answered with an error go to the error file, with the same ``response`` (its body an
OpenAI error object) and ``error`` set to ``{"code", "message"}``. Lines an expired batch
never reached are reported there too, as ``batch_expired`` with no response.
"""

import json
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.core.files import File

from apps.batch.inputs import batch_storage
from apps.batch.lines import BatchLine
from apps.batch.models import Batch, BatchFile, BatchResult, FilePurpose

EXPIRED_ERROR = {
    "code": "batch_expired",
    "message": "This line was not run before the batch's completion window ended.",
}


@dataclass(frozen=True)
class ResultFiles:
    output: BatchFile | None
    errors: BatchFile | None
    expired_lines: int


def result_line(result: BatchResult) -> dict:
    error = None
    if result.status_code != 200:
        detail = result.body.get("error") or {}
        error = {"code": detail.get("code") or "error", "message": detail.get("message") or ""}
    return {
        "id": result.request_id or f"batch_req_{uuid.uuid4().hex}",
        "custom_id": result.custom_id,
        "response": {
            "status_code": result.status_code,
            "request_id": result.request_id,
            "body": result.body,
        },
        "error": error,
    }


def expired_line(line: BatchLine) -> dict:
    return {
        "id": f"batch_req_{uuid.uuid4().hex}",
        "custom_id": line.custom_id,
        "response": None,
        "error": EXPIRED_ERROR,
    }


def write_result_files(
    batch: Batch, *, expired_lines: Callable[[], Iterator[BatchLine]] | None = None
) -> ResultFiles:
    """Write the batch's files from its stored results (and the lines it never ran)."""
    results = batch.results.order_by("line")
    output = _write(
        batch,
        "output",
        (result_line(r) for r in results.filter(status_code=200).iterator(chunk_size=2000)),
    )
    expired = 0

    def errors() -> Iterator[dict]:
        nonlocal expired
        for result in results.exclude(status_code=200).iterator(chunk_size=2000):
            yield result_line(result)
        for line in expired_lines() if expired_lines else ():
            expired += 1
            yield expired_line(line)

    error_file = _write(batch, "error", errors())
    return ResultFiles(output=output, errors=error_file, expired_lines=expired)


def _write(batch: Batch, kind: str, lines: Iterator[dict]) -> BatchFile | None:
    """Store the lines as ``<batch id>_<kind>.jsonl``; None when there are none."""
    count = 0
    with tempfile.TemporaryFile() as spool:
        for line in lines:
            spool.write(json.dumps(line, ensure_ascii=False).encode() + b"\n")
            count += 1
        if not count:
            return None
        size = spool.tell()
        spool.seek(0)
        # A fixed key: a batch finished again after a crash replaces its half-written file.
        key = f"batches/{batch.pk}/{kind}.jsonl"
        storage = batch_storage()
        if storage.exists(key):
            storage.delete(key)
        stored_key = storage.save(key, File(spool))
    return BatchFile.objects.create(
        workspace=batch.workspace,
        filename=f"{batch.pk}_{kind}.jsonl",
        purpose=FilePurpose.BATCH_OUTPUT,
        bytes=size,
        line_count=count,
        storage_key=stored_key,
    )
