"""The Files and Batch objects on the wire, as OpenAI's SDK reads them (the console shows
the same objects)."""

from datetime import datetime
from typing import Any, Literal

from ninja import Field, Schema

from apps.batch.models import Batch, BatchFile


def _ts(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment else None


class FileOut(Schema):
    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int
    filename: str
    purpose: str
    status: Literal["processed"] = "processed"
    status_details: str | None = None
    line_count: int = Field(description="Non-empty lines (ministudio's addition).")

    @classmethod
    def of(cls, file: BatchFile) -> "FileOut":
        return cls(
            id=file.pk,
            bytes=file.bytes,
            created_at=_ts(file.created_at),
            filename=file.filename,
            purpose=file.purpose,
            line_count=file.line_count,
        )


class RequestCounts(Schema):
    total: int
    completed: int
    failed: int


class BatchErrorOut(Schema):
    code: str
    message: str
    param: str | None = None
    line: int | None = None


class BatchErrors(Schema):
    object: Literal["list"] = "list"
    data: list[BatchErrorOut]


class BatchUsage(Schema):
    input_tokens: int
    output_tokens: int
    total_tokens: int
    input_tokens_details: dict[str, int] = Field(default_factory=lambda: {"cached_tokens": 0})
    output_tokens_details: dict[str, int] = Field(default_factory=lambda: {"reasoning_tokens": 0})


class BatchOut(Schema):
    id: str
    object: Literal["batch"] = "batch"
    endpoint: str
    model: str | None
    errors: BatchErrors | None
    input_file_id: str
    completion_window: str
    status: str
    output_file_id: str | None
    error_file_id: str | None
    created_at: int
    in_progress_at: int | None
    expires_at: int | None
    finalizing_at: int | None
    completed_at: int | None
    failed_at: int | None
    expired_at: int | None
    cancelling_at: int | None
    cancelled_at: int | None
    request_counts: RequestCounts
    usage: BatchUsage
    metadata: dict[str, Any] | None

    @classmethod
    def of(cls, batch: Batch) -> "BatchOut":
        return cls(
            id=batch.pk,
            endpoint=batch.endpoint,
            model=batch.model or None,
            errors=BatchErrors(data=batch.errors) if batch.errors else None,
            input_file_id=batch.input_file_id,
            completion_window=batch.completion_window,
            status=batch.status,
            output_file_id=batch.output_file_id,
            error_file_id=batch.error_file_id,
            created_at=_ts(batch.created_at),
            in_progress_at=_ts(batch.in_progress_at),
            expires_at=_ts(batch.expires_at),
            finalizing_at=_ts(batch.finalizing_at),
            completed_at=_ts(batch.completed_at),
            failed_at=_ts(batch.failed_at),
            expired_at=_ts(batch.expired_at),
            cancelling_at=_ts(batch.cancelling_at),
            cancelled_at=_ts(batch.cancelled_at),
            request_counts=RequestCounts(
                total=batch.total, completed=batch.completed, failed=batch.failed
            ),
            usage=BatchUsage(
                input_tokens=batch.input_tokens,
                output_tokens=batch.output_tokens,
                total_tokens=batch.input_tokens + batch.output_tokens,
            ),
            metadata=batch.metadata,
        )


class BatchIn(Schema):
    input_file_id: str = Field(min_length=1, max_length=40)
    endpoint: str
    completion_window: str = "24h"
    metadata: dict[str, Any] | None = None


class FileList(Schema):
    object: Literal["list"] = "list"
    data: list[FileOut]
    has_more: bool
    first_id: str | None
    last_id: str | None


class BatchList(Schema):
    object: Literal["list"] = "list"
    data: list[BatchOut]
    has_more: bool
    first_id: str | None
    last_id: str | None


class FileDeleted(Schema):
    id: str
    object: Literal["file"] = "file"
    deleted: bool = True
