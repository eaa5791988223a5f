"""The unit of a batch: one request line of the input file, and what became of it.

Both execution backends (the HTTP gateway path and the in-process vLLM engine) take
``BatchLine`` objects and give back one ``LineOutcome`` per line; the executor stores the
outcomes as they come (the checkpoint) and writes the output and error files from them.
This module imports nothing from Django, so the engine code can be tested on its own.
"""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BatchLine:
    """One request of the input file: its 1-based line number, ``custom_id`` and ``body``."""

    line: int
    custom_id: str
    body: dict[str, Any]


@dataclass(frozen=True)
class LineOutcome:
    """The answer to one line, in OpenAI's batch output terms.

    ``status_code`` 200 with ``body`` the endpoint's response (a ``chat.completion`` or an
    embeddings ``list``) goes to the output file; anything else goes to the error file, with
    ``body`` an OpenAI error object (``{"error": {"message", "type", "param", "code"}}``).
    """

    line: int
    custom_id: str
    status_code: int
    body: dict[str, Any]
    input_tokens: int = 0
    output_tokens: int = 0
    request_id: str = field(default="")

    @property
    def succeeded(self) -> bool:
        return self.status_code == 200

    @property
    def error(self) -> dict[str, Any] | None:
        """``{"code", "message"}`` of a failed line, None for a good one."""
        if self.succeeded:
            return None
        error = self.body.get("error") or {}
        return {"code": error.get("code") or "error", "message": error.get("message") or ""}


def error_body(
    message: str, *, code: str, error_type: str = "invalid_request_error", param: str | None = None
) -> dict[str, Any]:
    """An OpenAI error object, as the body of a failed line. (Not ``kernel.errors``'
    ``openai_error_body``: this module is imported by the vLLM engine process, without
    Django.)"""
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def failed_line(
    line: BatchLine, status_code: int, message: str, *, code: str, param: str | None = None
) -> LineOutcome:
    """The outcome of a line that could not be answered."""
    error_type = "invalid_request_error" if status_code < 500 else "api_error"
    return LineOutcome(
        line=line.line,
        custom_id=line.custom_id,
        status_code=status_code,
        body=error_body(message, code=code, error_type=error_type, param=param),
    )
