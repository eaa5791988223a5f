"""Writes of custom HTTP tools (create, change, delete, import from OpenAPI) and calling one.

Every way a tool is saved goes through the same checks (``_checked``), so an imported tool
is held to the rules of a hand-made one. A call validates the arguments, builds the request
and sends it through ``plugins.safe_http``, which refuses private and metadata
addresses; whatever goes wrong upstream comes back as an error result, never an exception,
and never with the credential in it.
"""

import base64
import json
import logging
import re
import time
from collections.abc import Collection
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from django.db import IntegrityError, transaction

from apps.accounts.models import User, Workspace
from apps.http_tools import openapi
from apps.http_tools.json_schema import SchemaError, check_parameters_schema, validation_errors
from apps.http_tools.models import (
    MAX_TIMEOUT_SECONDS,
    AuthLocation,
    AuthType,
    HttpMethod,
    HttpTool,
    ParameterLocation,
    ToolSource,
)
from apps.plugins.invocation import Invocation
from kernel.encryption import DecryptionFailed, decrypt_json, encrypt_json
from kernel.errors import Conflict, InvalidParameter
from plugins import safe_http
from plugins.base import ToolResult, ToolSpec
from plugins.scrubbing import scrub

logger = logging.getLogger(__name__)

NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
PLACEHOLDER = re.compile(r"\{([^{}/?#]+)\}")
# RFC 9110 token: what a header name may be.
HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$")
# Headers the HTTP client and the auth settings own; an argument may not set them.
RESERVED_HEADERS = {
    "authorization",
    "connection",
    "content-length",
    "content-type",
    "cookie",
    "host",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}
MAX_URL_CHARS = 2000
MAX_DESCRIPTION_CHARS = openapi.MAX_DESCRIPTION_CHARS
MAX_SECRET_CHARS = 4096
MIN_SECRET_CHARS = 4
#: What a model reads of a response (characters).
MAX_CONTENT_CHARS = 8000
ERROR_EXCERPT_CHARS = 500
MAX_RESPONSE_BYTES = 1_000_000
USER_AGENT = "ministudio-http-tool/1"
BODY_METHODS = {HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH}


# --- checks -----------------------------------------------------------------------------------


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise InvalidParameter(
            "name: 1 to 64 letters, digits, '_' or '-', starting with a letter (the function "
            "name a model calls)"
        )
    return name


def _check_method(method: Any) -> str:
    value = str(method or "").upper()
    if value not in HttpMethod.values:
        raise InvalidParameter(f"method: must be one of {', '.join(HttpMethod.values)}")
    return value


def _check_url(url: Any) -> tuple[str, list[str]]:
    """The URL and its path placeholders, in order."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidParameter("url: required")
    url = url.strip()
    if len(url) > MAX_URL_CHARS:
        raise InvalidParameter(f"url: longer than {MAX_URL_CHARS} characters")
    if any(char.isspace() or ord(char) < 32 for char in url):
        raise InvalidParameter("url: must not contain spaces or control characters")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidParameter("url: must be an http:// or https:// URL")
    if PLACEHOLDER.search(parts.netloc) or PLACEHOLDER.search(parts.query):
        # A model choosing the host would choose where the credential goes.
        raise InvalidParameter("url: {placeholders} may only stand in the path")
    concrete = urlsplit(PLACEHOLDER.sub("x", url))
    if "{" in concrete.path or "}" in concrete.path:
        raise InvalidParameter("url: unbalanced { or } in the path")
    try:
        concrete.port  # noqa: B018 - parsing it is the check
    except ValueError:
        raise InvalidParameter("url: the port is not a number from 0 to 65535") from None
    if not concrete.hostname:
        raise InvalidParameter("url: has no host")
    if concrete.username or concrete.password:
        raise InvalidParameter("url: must not contain credentials; set them in auth")
    if parts.fragment:
        raise InvalidParameter("url: must not have a #fragment")
    placeholders = PLACEHOLDER.findall(parts.path)
    if len(set(placeholders)) != len(placeholders):
        raise InvalidParameter("url: a {placeholder} appears twice")
    return url, placeholders


def _default_location(method: str) -> str:
    return ParameterLocation.BODY if method in BODY_METHODS else ParameterLocation.QUERY


def _check_locations(
    method: str, parameters: dict[str, Any], locations: Any, placeholders: list[str]
) -> dict[str, str]:
    """The explicit locations, checked against the URL, the method and the schema."""
    if locations is None:
        locations = {}
    if not isinstance(locations, dict):
        raise InvalidParameter("parameter_locations: must be an object (argument → location)")
    properties = parameters.get("properties") or {}
    required = set(parameters.get("required") or [])
    for name in placeholders:
        if name not in properties:
            raise InvalidParameter(
                f"parameters: the URL's {{{name}}} needs a property '{name}' in parameters"
            )
        if name not in required:
            raise InvalidParameter(f"parameters.required: must include the path parameter '{name}'")
    resolved = resolve_locations(method, parameters, locations, placeholders)
    for name, location in locations.items():
        if name not in properties:
            raise InvalidParameter(f"parameter_locations.{name}: not a property of parameters")
        if location not in ParameterLocation.values:
            raise InvalidParameter(
                f"parameter_locations.{name}: must be one of {', '.join(ParameterLocation.values)}"
            )
        if location == ParameterLocation.PATH and name not in placeholders:
            raise InvalidParameter(f"parameter_locations.{name}: the URL has no {{{name}}}")
        if name in placeholders and location != ParameterLocation.PATH:
            raise InvalidParameter(f"parameter_locations.{name}: the URL's {{{name}}} is a path")
    for name, location in resolved.items():
        if location == ParameterLocation.HEADER and (
            not HEADER_NAME.match(name) or name.lower() in RESERVED_HEADERS
        ):
            raise InvalidParameter(f"parameter_locations.{name}: not a header an argument may set")
        if location == ParameterLocation.BODY and method == HttpMethod.GET:
            raise InvalidParameter(f"parameter_locations.{name}: a GET request has no body")
    return {name: str(location) for name, location in locations.items()}


def resolve_locations(
    method: str,
    parameters: dict[str, Any],
    locations: dict[str, str],
    placeholders: list[str] | None = None,
) -> dict[str, str]:
    """Where each declared argument goes: its URL placeholder, its explicit location, or
    the method's default (query for GET and DELETE, JSON body otherwise)."""
    placeholders = placeholders if placeholders is not None else []
    default = _default_location(method)
    return {
        name: ParameterLocation.PATH
        if name in placeholders
        else str(locations.get(name) or default)
        for name in (parameters.get("properties") or {})
    }


def tool_locations(tool: HttpTool) -> dict[str, str]:
    """Where each of ``tool``'s arguments goes in the request."""
    placeholders = PLACEHOLDER.findall(urlsplit(tool.url).path)
    return resolve_locations(tool.method, tool.parameters, tool.parameter_locations, placeholders)


def _check_timeout(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameter(f"timeout_seconds: a whole number from 1 to {MAX_TIMEOUT_SECONDS}")
    if not 1 <= value <= MAX_TIMEOUT_SECONDS:
        raise InvalidParameter(f"timeout_seconds: a whole number from 1 to {MAX_TIMEOUT_SECONDS}")
    return value


def _checked(fields: dict[str, Any]) -> dict[str, Any]:
    """A tool's settings (all but auth), checked and normalised."""
    method = _check_method(fields.get("method"))
    url, placeholders = _check_url(fields.get("url"))
    try:
        parameters = check_parameters_schema(fields.get("parameters"))
    except SchemaError as exc:
        raise InvalidParameter(f"parameters: {exc}") from None
    description = fields.get("description") or ""
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_CHARS:
        raise InvalidParameter(f"description: text of at most {MAX_DESCRIPTION_CHARS} characters")
    return {
        "name": _check_name(fields.get("name")),
        "description": description,
        "method": method,
        "url": url,
        "parameters": parameters,
        "parameter_locations": _check_locations(
            method, parameters, fields.get("parameter_locations"), placeholders
        ),
        "timeout_seconds": _check_timeout(fields.get("timeout_seconds", 10)),
    }


def secret_text(value: Any, where: str) -> str:
    """``value`` when it is a credential a header or query parameter can carry."""
    if not isinstance(value, str) or not MIN_SECRET_CHARS <= len(value) <= MAX_SECRET_CHARS:
        raise InvalidParameter(
            f"{where}: a string of {MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} characters"
        )
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise InvalidParameter(f"{where}: must not contain control characters or line breaks")
    return value


def _checked_auth(auth: Any, previous: HttpTool | None = None) -> dict[str, Any]:
    """The auth columns for ``auth`` ({"type", "location", "name", "secret"}). Keys left out
    keep ``previous``'s values while the type stays the same, the secret included."""
    if auth is None:
        auth = {}
    if not isinstance(auth, dict):
        raise InvalidParameter("auth: must be an object with type, location, name and secret")
    unknown = set(auth) - {"type", "location", "name", "secret"}
    if unknown:
        raise InvalidParameter(f"auth: unknown keys: {', '.join(sorted(unknown))}")
    same_type = previous is not None and auth.get("type", previous.auth_type) == previous.auth_type
    kind = auth.get("type") or (previous.auth_type if previous else AuthType.NONE)
    if kind not in AuthType.values:
        raise InvalidParameter(f"auth.type: must be one of {', '.join(AuthType.values)}")
    secret = auth.get("secret")
    if kind == AuthType.NONE:
        if secret is not None:
            raise InvalidParameter("auth.secret: not used when auth.type is none")
        return {"auth_type": kind, "auth_location": "", "auth_name": "", "encrypted_secret": ""}

    location, name = "", ""
    if kind == AuthType.API_KEY:
        location = auth.get("location") or (previous.auth_location if same_type else "")
        location = location or AuthLocation.HEADER
        name = auth.get("name") or (previous.auth_name if same_type else "")
        if location not in AuthLocation.values:
            raise InvalidParameter("auth.location: header or query")
        if not isinstance(name, str) or not HEADER_NAME.match(name):
            raise InvalidParameter(
                "auth.name: the header or query parameter that carries the key (e.g. X-API-Key)"
            )
        if location == AuthLocation.HEADER and name.lower() in RESERVED_HEADERS - {"authorization"}:
            raise InvalidParameter(f"auth.name: {name} is not a header an API key may use")
    elif auth.get("location") or auth.get("name"):
        raise InvalidParameter("auth.location and auth.name: only for auth.type api_key")

    if secret is None:
        if not (same_type and previous and previous.encrypted_secret):
            raise InvalidParameter(f"auth.secret: required for auth.type {kind}")
        encrypted = previous.encrypted_secret
    elif kind == AuthType.BASIC:
        if not isinstance(secret, dict) or set(secret) != {"username", "password"}:
            raise InvalidParameter('auth.secret: {"username": ..., "password": ...} for basic')
        username, password = secret["username"], secret["password"]
        if not isinstance(username, str) or not username or ":" in username:
            raise InvalidParameter("auth.secret.username: required, without ':'")
        secret_text(password, "auth.secret.password")
        encrypted = encrypt_json({"username": username, "password": password})
    else:
        encrypted = encrypt_json({"token": secret_text(secret, "auth.secret")})
    return {
        "auth_type": kind,
        "auth_location": location,
        "auth_name": name,
        "encrypted_secret": encrypted,
    }


def _save(tool: HttpTool) -> HttpTool:
    try:
        with transaction.atomic():
            tool.save()
    except IntegrityError:
        raise Conflict(f"A tool named '{tool.name}' exists in this workspace.") from None
    return tool


# --- writes -----------------------------------------------------------------------------------


def create_http_tool(
    workspace: Workspace,
    *,
    name: str,
    url: str,
    method: str = HttpMethod.GET,
    description: str = "",
    parameters: dict[str, Any] | None = None,
    parameter_locations: dict[str, str] | None = None,
    auth: dict[str, Any] | None = None,
    timeout_seconds: int = 10,
    by: User | None = None,
) -> HttpTool:
    """A hand-made tool. ``auth``: {"type": none|bearer|basic|api_key, "location":
    header|query, "name": ..., "secret": token or {"username", "password"}}."""
    fields = _checked(
        {
            "name": name,
            "url": url,
            "method": method,
            "description": description,
            "parameters": parameters
            if parameters is not None
            else {"type": "object", "properties": {}},
            "parameter_locations": parameter_locations,
            "timeout_seconds": timeout_seconds,
        }
    )
    tool = HttpTool(workspace=workspace, **fields, **_checked_auth(auth), created_by=by)
    return _save(tool)


def update_http_tool(tool: HttpTool, **changes: Any) -> HttpTool:
    """Change any of the fields of ``create_http_tool``. Locations of arguments that a new
    ``parameters`` drops are forgotten; an ``auth`` without ``secret`` keeps the stored one
    while the type stays the same."""
    editable = {
        "name",
        "description",
        "method",
        "url",
        "parameters",
        "parameter_locations",
        "timeout_seconds",
    }
    unknown = set(changes) - editable - {"auth"}
    if unknown:
        raise InvalidParameter(f"Unknown fields: {', '.join(sorted(unknown))}")
    current = {field: getattr(tool, field) for field in editable}
    merged = {**current, **{k: v for k, v in changes.items() if k in editable}}
    if "parameters" in changes and "parameter_locations" not in changes:
        properties = (changes["parameters"] or {}).get("properties") or {}
        merged["parameter_locations"] = {
            name: location
            for name, location in tool.parameter_locations.items()
            if name in properties
        }
    fields = _checked(merged)
    if "auth" in changes:
        fields.update(_checked_auth(changes["auth"], previous=tool))
    for field, value in fields.items():
        setattr(tool, field, value)
    return _save(tool)


def delete_http_tool(tool: HttpTool) -> None:
    tool.delete()


@transaction.atomic
def import_openapi(
    workspace: Workspace,
    document: dict[str, Any] | str,
    *,
    server_url: str | None = None,
    auth: dict[str, Any] | None = None,
    operations: Collection[str] | None = None,
    timeout_seconds: int = 10,
    by: User | None = None,
) -> list[HttpTool]:
    """One tool per operation of an OpenAPI 3 document (JSON or YAML, as text or parsed),
    all with ``auth``; only the operations named in ``operations`` (operationId or
    "METHOD /path") when given. All or nothing: a name already taken in the workspace
    answers 409 naming every clash, and nothing is created."""
    if server_url is not None:
        _check_url(server_url)
    try:
        found = openapi.drafts(
            openapi.load_document(document), server_url=server_url, operations=operations
        )
    except openapi.OpenApiError as exc:
        raise InvalidParameter(str(exc)) from None
    credentials = _checked_auth(auth)
    tools = []
    for draft in found:
        try:
            fields = _checked(
                {
                    **draft.__dict__,
                    "timeout_seconds": timeout_seconds,
                }
            )
        except InvalidParameter as exc:
            raise InvalidParameter(f"operation {draft.key}: {exc.message}") from None
        tools.append(
            HttpTool(
                workspace=workspace,
                **fields,
                **credentials,
                source=ToolSource.OPENAPI,
                openapi_operation_id=draft.operation_id,
                created_by=by,
            )
        )
    names = [tool.name for tool in tools]
    taken = sorted(
        HttpTool.objects.in_workspace(workspace)
        .filter(name__in=names)
        .values_list("name", flat=True)
    )
    if taken:
        raise Conflict(
            f"Tools with these names exist in this workspace: {', '.join(taken)}. Nothing was "
            "imported: rename or delete them, or leave those operations out (operations)."
        )
    try:
        with transaction.atomic():
            return HttpTool.objects.bulk_create(tools)
    except IntegrityError:  # a tool of the same name was created meanwhile
        raise Conflict(
            "A tool of one of these names was just created; nothing was imported."
        ) from None


# --- calling a tool ---------------------------------------------------------------------------


def tool_spec(tool: HttpTool) -> ToolSpec:
    """The tool as a chat model is offered it."""
    return ToolSpec(name=tool.name, description=tool.description, parameters=tool.parameters)


def _as_text(value: Any) -> str:
    """An argument's value where text is needed (path, query, header)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _as_declared(value: Any, schema: dict[str, Any]) -> Any:
    """3.0 where the schema says integer: validation accepts it, an API may not."""
    declared = schema.get("type")
    integer = declared == "integer" or (isinstance(declared, list) and "integer" in declared)
    if integer and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _request_parts(tool: HttpTool, arguments: dict[str, Any]) -> dict[str, Any]:
    """URL, headers and JSON body for ``arguments`` (already validated), without auth."""
    locations = tool_locations(tool)
    placeholders: dict[str, str] = {}
    query: list[tuple[str, str]] = []
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json, */*;q=0.5"}
    body: dict[str, Any] = {}
    properties = tool.parameters.get("properties") or {}
    for name, value in arguments.items():
        location = locations.get(name, _default_location(tool.method))
        value = _as_declared(value, properties.get(name) or {})
        if location == ParameterLocation.PATH:
            text = _as_text(value)
            if text in ("", ".", ".."):
                # Dot segments would be normalised away and reach another endpoint.
                raise InvalidParameter(f"arguments.{name}: may not be empty, '.' or '..'")
            placeholders[name] = quote(text, safe="")
        elif value is None:
            if location == ParameterLocation.BODY:
                body[name] = None
        elif location == ParameterLocation.QUERY:
            values = value if isinstance(value, list) else [value]
            query += [(name, _as_text(item)) for item in values]
        elif location == ParameterLocation.HEADER:
            text = _as_text(value)
            if any(ord(char) < 32 for char in text):
                raise InvalidParameter(f"arguments.{name}: a header value cannot hold line breaks")
            headers[name] = text
        else:
            body[name] = value
    parts = urlsplit(PLACEHOLDER.sub(lambda m: placeholders[m.group(1)], tool.url))
    return {
        "parts": parts,
        "query": parse_qsl(parts.query, keep_blank_values=True) + query,
        "headers": headers,
        # POST, PUT and PATCH always send a JSON object; a DELETE only when it has fields.
        "json": body if body or tool.method in BODY_METHODS else None,
    }


def _add_auth(tool: HttpTool, request: dict[str, Any]) -> list[str]:
    """Put the credential on ``request``; returns the secrets to scrub from output (their
    encoded forms are scrubbed as well)."""
    if tool.auth_type == AuthType.NONE:
        return []
    secret = decrypt_json(tool.encrypted_secret)
    if tool.auth_type == AuthType.BASIC:
        pair = f"{secret['username']}:{secret['password']}"
        encoded = base64.b64encode(pair.encode()).decode()
        request["headers"]["Authorization"] = f"Basic {encoded}"
        return [secret["password"], encoded]
    token = secret["token"]
    if tool.auth_type == AuthType.BEARER:
        request["headers"]["Authorization"] = f"Bearer {token}"
    elif tool.auth_location == AuthLocation.QUERY:
        request["query"].append((tool.auth_name, token))
    else:
        request["headers"][tool.auth_name] = token
    return [token]


def _truncated(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n… [truncated: {len(text):,} characters in all]"


def _result(response: safe_http.SafeResponse, host: str) -> ToolResult:
    text = response.text()
    try:
        parsed = response.json() if text.strip() else None
    except ValueError:
        parsed = None
    if response.status >= 400:
        excerpt = " ".join(text.split())[:ERROR_EXCERPT_CHARS] or "(empty body)"
        return ToolResult(
            content=f"HTTP {response.status} from {host}: {excerpt}",
            data={"status": response.status, "body": parsed if parsed is not None else excerpt},
            is_error=True,
        )
    if parsed is not None:
        content = json.dumps(parsed, ensure_ascii=False)
    else:
        content = text if text.strip() else f"HTTP {response.status} (empty body)"
    return ToolResult(
        content=_truncated(content, MAX_CONTENT_CHARS),
        data={
            "status": response.status,
            "body": parsed if parsed is not None else _truncated(text, MAX_CONTENT_CHARS),
        },
    )


def invoke_http_tool(tool: HttpTool, arguments: dict[str, Any]) -> Invocation:
    """Call ``tool`` with ``arguments``. Arguments that break its schema raise
    ``InvalidParameter``; everything that goes wrong after that (blocked address, time-out,
    HTTP ≥ 400, a response too large, an unreadable credential) is an error result."""
    if not isinstance(arguments, dict):
        raise InvalidParameter("arguments: must be an object")
    errors = validation_errors(arguments, tool.parameters)
    if errors:
        raise InvalidParameter("; ".join(errors[:20]))
    request = _request_parts(tool, arguments)
    host = request["parts"].hostname or ""
    started = time.monotonic()
    secrets: list[str] = []
    try:
        secrets = _add_auth(tool, request)
        url = urlunsplit(
            request["parts"]._replace(query=urlencode(request["query"], quote_via=quote))
        )
        response = safe_http.request(
            tool.method,
            url,
            json=request["json"],
            headers=request["headers"],
            timeout=float(tool.timeout_seconds),
            max_bytes=MAX_RESPONSE_BYTES,
        )
        result = _result(response, host)
    except DecryptionFailed as exc:
        result = ToolResult(content=f"Tool '{tool.name}': {exc.message}", is_error=True)
    except safe_http.SafeHttpError as exc:
        result = ToolResult(
            content=f"Request to {host} failed ({type(exc).__name__}): {exc}", is_error=True
        )
    except Exception as exc:  # a tool call must never become a 500 for the caller
        logger.warning("HTTP tool %s failed: %s", tool.pk, type(exc).__name__)
        result = ToolResult(
            content=f"Request to {host} failed ({type(exc).__name__}): {exc}", is_error=True
        )
    duration_ms = round((time.monotonic() - started) * 1000)
    if secrets:
        result = ToolResult(
            content=scrub(result.content, secrets),
            data=scrub(result.data, secrets),
            is_error=result.is_error,
        )
    return Invocation(tool=tool.name, result=result, duration_ms=duration_ms)
