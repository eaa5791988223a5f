"""The error answers every operation's OpenAPI description documents.

ninja documents only the statuses a handler declares; every operation can also answer in the
one error shape of ``studio.errors`` (``{"code", "message", "request_id"}``, or OpenAI's
``{"error": {...}}`` under ``/compatible-mode/``). ``document_errors`` adds those statuses to
each operation of an API's schema, so a client generated from it, or a fuzzer checking answers
against it (``tests/fuzz``), knows them:

- 400: every operation (a parameter or body that does not validate);
- 401, 403, 404, 429: every authenticated operation (no or a bad credential, a role that may
  not, a workspace or object that is not there or not the caller's, a throttled API key or
  quota), and 404 wherever a path names an object;
- 409: every operation that changes something (a name taken, a state that forbids it);
- 413: every operation with a request body (larger than ``MINISTUDIO_REQUEST_MAX_MB``).

Operations that call models also answer the upstream's failures (``GATEWAY_ERRORS``).
"""

from collections.abc import Callable
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
                "param": {"type": "string", "nullable": True},
                "code": {"type": "string", "nullable": True},
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
    413: "Request too large: the body is over MINISTUDIO_REQUEST_MAX_MB.",
    429: "Throttled: too many refused credentials from this address, or a quota is spent.",
    502: "The model server failed or answered something unusable.",
    503: "The model server or a service the platform needs is unavailable.",
    504: "The model server did not answer in time.",
}
#: What an operation that calls a model server may also answer.
GATEWAY_ERRORS = (502, 503, 504)

UNSAFE_METHODS = {"post", "put", "patch", "delete"}
#: Paths under this prefix answer errors in OpenAI's shape (as ``studio.errors`` renders them).
OPENAI_PREFIX = "/compatible-mode/"


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
    return statuses


def document_errors(
    api: NinjaAPI, *, extra: Callable[[str, str, dict[str, Any]], set[int]] | None = None
) -> None:
    """Make ``api``'s OpenAPI schema document every error status its operations answer, in
    the error shape of the surface each path is on (``studio.errors.error_response``).

    ``extra(method, path, operation)`` names more statuses for some operations."""
    original = api.get_openapi_schema

    def get_openapi_schema(*args: Any, **kwargs: Any):
        schema = original(*args, **kwargs)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for path, operations in schema.get("paths", {}).items():
            openai_shape = path.startswith(OPENAI_PREFIX)
            name = "OpenAIErrorOut" if openai_shape else "ErrorOut"
            components[name] = OPENAI_ERROR_SCHEMA if openai_shape else ERROR_SCHEMA
            reference = {"$ref": f"#/components/schemas/{name}"}
            for method, operation in operations.items():
                statuses = error_statuses(method, operation)
                if extra is not None:
                    statuses |= extra(method, path, operation)
                responses = operation.setdefault("responses", {})
                for status in sorted(statuses):
                    responses.setdefault(
                        status,
                        {
                            "description": DESCRIPTIONS[status],
                            "content": {"application/json": {"schema": reference}},
                        },
                    )
        return schema

    api.get_openapi_schema = get_openapi_schema  # type: ignore[method-assign]
