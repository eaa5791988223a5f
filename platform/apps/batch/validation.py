"""Checking a batch's input file before any line is sent upstream.

Every line must be a JSON object with a unique ``custom_id``, ``method`` POST, ``url`` equal
to the batch's endpoint and a ``body`` naming a ``model``; all lines must name the same
model, and the workspace must have been granted it for that endpoint. A file that breaks
any of these fails the batch with errors naming the line numbers (the first
``MAX_ERRORS``), and nothing is sent upstream.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from apps.accounts.models import Workspace
from apps.batch.inputs import LineTooLong
from apps.gateway import routing
from apps.model_endpoints.models import EndpointCapability
from kernel.errors import ApiError

MAX_ERRORS = 100

CAPABILITY_OF_ENDPOINT = {
    "/v1/chat/completions": EndpointCapability.CHAT,
    "/v1/embeddings": EndpointCapability.EMBEDDING,
}


@dataclass
class Validation:
    """What checking a file found: its size and model when good, its errors when not."""

    total: int = 0
    model: str = ""
    route: routing.Route | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)

    def error(self, code: str, message: str, *, line: int | None, param: str | None = None):
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"code": code, "message": message, "param": param, "line": line})


def validate_lines(
    workspace: Workspace, endpoint: str, lines: Iterable[tuple[int, bytes]]
) -> Validation:
    """Check every line of an input file (see the module's docstring)."""
    found = Validation()
    seen: set[str] = set()
    first_model_line: int | None = None
    try:
        for number, raw in lines:
            found.total += 1
            request = _request_of(found, number, raw)
            if request is None:
                continue
            custom_id = request.get("custom_id")
            if custom_id in seen:
                found.error(
                    "duplicate_custom_id",
                    f"custom_id '{custom_id}' is used by an earlier line; each must be unique.",
                    line=number,
                    param="custom_id",
                )
            seen.add(custom_id)
            if request.get("method") != "POST":
                found.error("invalid_method", "method must be POST.", line=number, param="method")
            if request.get("url") != endpoint:
                found.error(
                    "mismatched_url",
                    f"url is {request.get('url')!r}; this batch's endpoint is '{endpoint}'.",
                    line=number,
                    param="url",
                )
            model = request["body"].get("model")
            if not found.model:
                found.model, first_model_line = model, number
            elif model != found.model:
                found.error(
                    "mismatched_model",
                    f"model is '{model}', but line {first_model_line} names '{found.model}'; "
                    "a batch runs one model.",
                    line=number,
                    param="body.model",
                )
    except LineTooLong as exc:
        found.error("line_too_long", "The line is too long.", line=exc.line)
    if found.total == 0:
        found.error("empty_file", "The input file has no requests.", line=None)
    if found.model and not found.errors:
        try:
            found.route = routing.route(
                workspace, found.model, CAPABILITY_OF_ENDPOINT[endpoint], surface="batch"
            )
        except ApiError as exc:
            found.error("model_not_found", exc.message, line=first_model_line, param="body.model")
    return found


def _request_of(found: Validation, number: int, raw: bytes) -> dict[str, Any] | None:
    """The line's request object, or None after recording why it is not one."""
    try:
        request = json.loads(raw)
    except ValueError:  # bad UTF-8 too (UnicodeDecodeError is a ValueError)
        found.error("invalid_json_line", "The line is not valid JSON.", line=number)
        return None
    if not isinstance(request, dict):
        found.error("invalid_json_line", "The line is not a JSON object.", line=number)
        return None
    for name, kind in (("custom_id", str), ("method", str), ("url", str), ("body", dict)):
        if not isinstance(request.get(name), kind):
            found.error(
                "missing_required_parameter",
                f"{name} is missing or is not a {'string' if kind is str else 'JSON object'}.",
                line=number,
                param=name,
            )
            return None
    if not request["custom_id"] or len(request["custom_id"]) > 512:
        found.error(
            "invalid_custom_id",
            "custom_id must be 1 to 512 characters.",
            line=number,
            param="custom_id",
        )
        return None
    if not isinstance(request["body"].get("model"), str) or not request["body"]["model"]:
        found.error(
            "missing_required_parameter",
            "body.model is missing.",
            line=number,
            param="body.model",
        )
        return None
    return request
