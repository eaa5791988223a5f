"""The error answers every operation's OpenAPI description documents.

ninja documents only the statuses a handler declares; every operation can also answer in the
one error shape of ``kernel.errors`` (``{"code", "message", "request_id"}``, or OpenAI's
``{"error": {...}}`` under ``/compatible-mode/``). ``document_errors`` adds those statuses to
each operation of an API's schema, so a client generated from it, or a fuzzer checking answers
against it (``tests/fuzz``), knows them:

- 400: every operation (a parameter or body that does not validate);
- 401, 403, 404, 429: every authenticated operation (no or a bad credential, a role that may
  not, a workspace or object that is not there or not the caller's, a throttled API key or
  quota), and 404 wherever a path names an object;
- 409: every operation that changes something (a name taken, a state that forbids it);
- 413: every operation with a request body (larger than ``MINISTUDIO_REQUEST_MAX_MB``).

Each is a shared response (``components.responses``, ``Error404`` / ``OpenAIError404``), and
429 and 503 document ``Retry-After``.

An operation names what the rules cannot see with ``openapi_extra=also_answers(...)``: more
error statuses (a sign-in that fails with 401 and 429 without being authenticated, a
model call's upstream failures, ``GATEWAY_ERRORS``), or a 200 that is an event stream when
the request asks for one.
"""

from typing import Annotated, Any

from ninja import NinjaAPI
from pydantic import WithJsonSchema

#: A path parameter that names an object by its UUID. Documented as ``format: uuid``; the
#: handler still takes any text, so a malformed id is not found (404) like a foreign one.
UUIDText = Annotated[str, WithJsonSchema({"type": "string", "format": "uuid"})]

ERROR_SCHEMA = {
    "title": "ErrorOut",
    "type": "object",
    "properties": {
        "code": {"type": "string", "description": "A DashScope-style error code."},
        "message": {"type": "string"},
        "request_id": {"type": "string"},
    },
    "required": ["code", "message", "request_id"],
}

OPENAI_ERROR_SCHEMA = {
    "title": "OpenAIErrorOut",
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
            "required": ["message", "type", "param", "code"],
        }
    },
    "required": ["error"],
}

DESCRIPTIONS = {
    400: "Invalid parameter: a parameter or the body does not validate.",
    401: "Not authenticated: no credential, or a bad or revoked API key.",
    403: "Access denied: the caller's role may not do this (or a CSRF check failed).",
    404: "Not found: the workspace or object is not there, or not the caller's.",
    409: "Conflict: a name is taken, or the object's state forbids this.",
    410: "Gone: the invitation was used, revoked or has expired.",
    413: "Request too large: the body is over MINISTUDIO_REQUEST_MAX_MB.",
    429: "Throttled: too many refused credentials from this address, or a quota is spent.",
    502: "The model server failed or answered something unusable.",
    503: "The model server or a service the platform needs is unavailable.",
    504: "The model server did not answer in time.",
}
#: Statuses that may say when to try again (a lock-out, a quota, a busy model server).
RETRY_AFTER_STATUSES = {429, 503}
RETRY_AFTER = {
    "description": "Seconds to wait before trying again, where known.",
    "schema": {"type": "string"},
}
#: What an operation that calls a model server may also answer.
GATEWAY_ERRORS = (502, 503, 504)

UNSAFE_METHODS = {"post", "put", "patch", "delete"}
#: Paths under this prefix answer errors in OpenAI's shape (as ``kernel.errors`` renders them).
OPENAI_PREFIX = "/compatible-mode/"
# What ``also_answers`` marks an operation with; ``document_errors`` reads and drops them.
_STATUSES = "x-ministudio-error-statuses"
_EVENT_STREAM = "x-ministudio-event-stream"


def also_answers(*statuses: int, event_stream: bool = False) -> dict[str, Any]:
    """``openapi_extra`` for a route that also answers ``statuses`` (errors in its surface's
    shape), or, with ``event_stream``, whose 200 may be server-sent events."""
    extra: dict[str, Any] = {}
    if statuses:
        extra[_STATUSES] = sorted(statuses)
    if event_stream:
        extra[_EVENT_STREAM] = True
    return extra


#: Server-sent events, each described as its fields (``data`` is JSON, or ``[DONE]``).
EVENT_STREAM_CONTENT = {
    "text/event-stream": {
        "schema": {
            "type": "object",
            "properties": {
                "event": {"type": "string"},
                "data": {"type": "string"},
                "id": {"type": "string"},
            },
            "required": ["data"],
        }
    }
}


def error_statuses(method: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses an operation can answer, from what its description shows."""
    statuses = {400}
    authenticated = bool(operation.get("security"))
    has_path_object = any(p.get("in") == "path" for p in operation.get("parameters", []))
    if authenticated:
        statuses |= {401, 403, 404, 429}
    if has_path_object:
        statuses.add(404)
    if method in UNSAFE_METHODS:
        statuses.add(409)
    if "requestBody" in operation:
        statuses.add(413)
    return statuses | set(operation.pop(_STATUSES, ()))


def document_errors(api: NinjaAPI) -> None:
    """Make ``api``'s OpenAPI schema document every error status its operations answer, in
    the error shape of the surface each path is on (``kernel.errors.error_response``)."""
    original = api.get_openapi_schema

    def get_openapi_schema(*args: Any, **kwargs: Any):
        schema = original(*args, **kwargs)
        components = schema.setdefault("components", {})
        for path, operations in schema.get("paths", {}).items():
            openai_shape = path.startswith(OPENAI_PREFIX)
            name = "OpenAIErrorOut" if openai_shape else "ErrorOut"
            components.setdefault("schemas", {})[name] = (
                OPENAI_ERROR_SCHEMA if openai_shape else ERROR_SCHEMA
            )
            for method, operation in operations.items():
                statuses = error_statuses(method, operation)
                responses = operation.setdefault("responses", {})
                if operation.pop(_EVENT_STREAM, False):
                    ok = responses.setdefault(200, {"description": "OK"})
                    # A route without a declared response answers a JSON object otherwise.
                    content = ok.setdefault("content", {"application/json": {"schema": {}}})
                    content.update(EVENT_STREAM_CONTENT)
                for status in sorted(statuses):
                    # One shared response per status and shape (components.responses).
                    key = f"{'OpenAI' if openai_shape else ''}Error{status}"
                    response = {
                        "description": DESCRIPTIONS[status],
                        "content": {
                            "application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}
                        },
                    }
                    if status in RETRY_AFTER_STATUSES:
                        response["headers"] = {"Retry-After": RETRY_AFTER}
                    components.setdefault("responses", {})[key] = response
                    responses.setdefault(status, {"$ref": f"#/components/responses/{key}"})
        return schema

    api.get_openapi_schema = get_openapi_schema  # type: ignore[method-assign]
