"""Reading an OpenAPI 3.0 / 3.1 document into HTTP tool drafts, one per operation.

Nothing here touches the database: ``apps.http_tools.services.import_openapi`` checks the
drafts like hand-made tools and saves them all or none.
"""

import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from apps.http_tools.models import ParameterLocation

MAX_DOCUMENT_CHARS = 2_000_000
MAX_OPERATIONS = 200
#: Nodes a document may have once YAML aliases are expanded (an alias bomb stops here).
MAX_NODES = 200_000
#: $refs followed inside one another; deeper (or recursive) schemas become a plain object.
MAX_REF_DEPTH = 8
MAX_DESCRIPTION_CHARS = 2000
METHODS = ("get", "post", "put", "patch", "delete")
# OpenAPI says these header parameters are ignored: the client sets them (auth, content).
IGNORED_HEADERS = {"accept", "content-type", "authorization"}


class OpenApiError(ValueError):
    """The document cannot be imported; the message says why (and which operation)."""


@dataclass(frozen=True)
class ToolDraft:
    name: str
    description: str
    method: str
    url: str
    parameters: dict[str, Any]
    parameter_locations: dict[str, str]
    operation_id: str
    #: "METHOD /path", to name the operation in messages.
    key: str


def load_document(document: dict[str, Any] | str) -> dict[str, Any]:
    """The document as plain JSON data: a dict as is, or JSON text, or YAML text when
    PyYAML is installed (it comes with ``dashscope``)."""
    if isinstance(document, str):
        if len(document) > MAX_DOCUMENT_CHARS:
            raise OpenApiError(f"document: larger than {MAX_DOCUMENT_CHARS:,} characters")
        try:
            document = json.loads(document)
        except ValueError:
            document = _load_yaml(document)
    if not isinstance(document, dict):
        raise OpenApiError("document: must be an OpenAPI object (JSON or YAML)")
    return _plain(document, [MAX_NODES])


def _load_yaml(text: str) -> Any:
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML ships with dashscope
        raise OpenApiError("document: not valid JSON") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise OpenApiError(f"document: neither valid JSON nor valid YAML ({exc})") from None


def _plain(value: Any, budget: list[int]) -> Any:
    """A JSON-safe copy: YAML's dates and odd keys become strings, shared (aliased) nodes
    are copied, and the node budget bounds the work."""
    budget[0] -= 1
    if budget[0] < 0:
        raise OpenApiError(f"document: more than {MAX_NODES:,} nodes")
    if isinstance(value, dict):
        return {str(key): _plain(item, budget) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item, budget) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def drafts(
    document: dict[str, Any],
    *,
    server_url: str | None = None,
    operations: Collection[str] | None = None,
) -> list[ToolDraft]:
    """One draft per operation of ``document`` (only those named in ``operations``, by
    operationId or "METHOD /path", when given)."""
    version = document.get("openapi")
    if "swagger" in document:
        raise OpenApiError("document: Swagger 2.0 is not supported; convert it to OpenAPI 3")
    if not isinstance(version, str) or not version.startswith("3."):
        raise OpenApiError('document: not an OpenAPI 3 document (no "openapi": "3.x")')
    paths = document.get("paths")
    if not isinstance(paths, dict) or not paths:
        raise OpenApiError("document.paths: no operations")
    base = _base_url(document, server_url)
    resolver = _Resolver(document)

    found: list[ToolDraft] = []
    matched: set[str] = set()
    names: set[str] = set()
    for path, item in paths.items():
        item = resolver.resolve(item, f"paths.{path}")
        if not isinstance(item, dict):
            raise OpenApiError(f"document.paths.{path}: must be an object")
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            if not isinstance(operation, dict):
                raise OpenApiError(f"document.paths.{path}.{method}: must be an object")
            key = f"{method.upper()} {path}"
            operation_id = str(operation.get("operationId") or "")
            if operations is not None:
                hit = {name for name in (operation_id, key) if name in operations}
                if not hit:
                    continue
                matched |= hit
            draft = _draft(resolver, base, path, method, item, operation, key, operation_id)
            name = _unique(draft.name, names)
            names.add(name)
            found.append(ToolDraft(**{**draft.__dict__, "name": name}))
    if operations is not None and set(operations) - matched:
        missing = ", ".join(sorted(set(operations) - matched))
        raise OpenApiError(f"operations: not in the document: {missing}")
    if not found:
        raise OpenApiError("document.paths: no GET, POST, PUT, PATCH or DELETE operations")
    if len(found) > MAX_OPERATIONS:
        raise OpenApiError(
            f"document: {len(found)} operations; import at most {MAX_OPERATIONS} at a time "
            "(name them in operations)"
        )
    return found


def _base_url(document: dict[str, Any], server_url: str | None) -> str:
    if server_url:
        return server_url.rstrip("/")
    servers = document.get("servers")
    if not isinstance(servers, list) or not servers or not isinstance(servers[0], dict):
        raise OpenApiError("document.servers: none; pass server_url")
    url = str(servers[0].get("url") or "")
    for name, variable in (servers[0].get("variables") or {}).items():
        if isinstance(variable, dict) and "default" in variable:
            url = url.replace("{" + name + "}", str(variable["default"]))
    if not re.match(r"^https?://", url, re.IGNORECASE):
        raise OpenApiError(
            f"document.servers[0].url: '{url}' is not an absolute http(s) URL; pass server_url"
        )
    return url.rstrip("/")


def _draft(
    resolver: "_Resolver",
    base: str,
    path: str,
    method: str,
    item: dict[str, Any],
    operation: dict[str, Any],
    key: str,
    operation_id: str,
) -> ToolDraft:
    properties: dict[str, Any] = {}
    required: list[str] = []
    locations: dict[str, str] = {}

    def add(name: str, schema: dict[str, Any], location: str, is_required: bool) -> None:
        if name in properties:
            raise OpenApiError(
                f"operation {key}: the parameter '{name}' is in both the {locations[name]} and "
                f"the {location}; leave the operation out (operations) or rename one"
            )
        properties[name] = schema
        locations[name] = location
        if is_required:
            required.append(name)

    for parameter in _parameters(resolver, item, operation, key):
        name, place = str(parameter.get("name") or ""), parameter.get("in")
        if not name:
            raise OpenApiError(f"operation {key}: a parameter has no name")
        if place == "header" and name.lower() in IGNORED_HEADERS:
            continue
        if place == "cookie":
            if parameter.get("required"):
                raise OpenApiError(f"operation {key}: cookie parameters are not supported")
            continue
        if place not in ("path", "query", "header"):
            raise OpenApiError(f"operation {key}: parameter '{name}' has an unknown 'in'")
        schema = _parameter_schema(resolver, parameter, key)
        add(name, schema, place, place == "path" or bool(parameter.get("required")))

    body = operation.get("requestBody")
    if body is not None:
        body = resolver.resolve(body, f"{key} requestBody")
        schema = _json_body_schema(body, key)
        if schema is not None:
            if method == "get":
                raise OpenApiError(f"operation {key}: a GET with a request body is not supported")
            body_required = set(schema.get("required") or []) if body.get("required") else set()
            for name, sub in (schema.get("properties") or {}).items():
                if isinstance(sub, dict) and sub.get("readOnly") is True:
                    continue  # set by the server (an id, a timestamp): never sent
                add(name, sub, ParameterLocation.BODY.value, name in body_required)

    summary = str(operation.get("summary") or "").strip()
    detail = str(operation.get("description") or "").strip()
    description = "\n\n".join(part for part in (summary, detail) if part) or key
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = required
    return ToolDraft(
        name=_name(operation_id, method, path),
        description=description[:MAX_DESCRIPTION_CHARS],
        method=method.upper(),
        url=base + path,
        parameters=parameters,
        parameter_locations=locations,
        operation_id=operation_id[:255],
        key=key,
    )


def _parameters(
    resolver: "_Resolver", item: dict[str, Any], operation: dict[str, Any], key: str
) -> list[dict[str, Any]]:
    """Path-level parameters overridden by the operation's own, by (name, in)."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for source in (item.get("parameters") or [], operation.get("parameters") or []):
        if not isinstance(source, list):
            raise OpenApiError(f"operation {key}: parameters must be a list")
        for raw in source:
            parameter = resolver.resolve(raw, f"{key} parameters")
            if not isinstance(parameter, dict):
                raise OpenApiError(f"operation {key}: a parameter must be an object")
            merged[(str(parameter.get("name")), str(parameter.get("in")))] = parameter
    return list(merged.values())


def _parameter_schema(resolver: "_Resolver", parameter: dict[str, Any], key: str) -> dict:
    schema = parameter.get("schema")
    if schema is None and isinstance(parameter.get("content"), dict):
        media = next(iter(parameter["content"].values()), None)
        schema = media.get("schema") if isinstance(media, dict) else None
    schema = resolver.resolve(schema, f"{key} parameter {parameter.get('name')}") or {}
    if not isinstance(schema, dict):
        raise OpenApiError(f"operation {key}: parameter '{parameter.get('name')}' schema")
    schema = {**schema} if schema else {"type": "string"}
    if parameter.get("description") and "description" not in schema:
        schema["description"] = str(parameter["description"])
    return schema


def _json_body_schema(body: Any, key: str) -> dict[str, Any] | None:
    """The JSON request body's object schema; None when the body is optional and not JSON."""
    if not isinstance(body, dict):
        raise OpenApiError(f"operation {key}: requestBody must be an object")
    content = body.get("content") or {}
    media = next(
        (
            value
            for name, value in content.items()
            if name.split(";")[0].strip().lower() == "application/json"
            or name.split(";")[0].strip().lower().endswith("+json")
        ),
        None,
    )
    if media is None:
        if body.get("required"):
            kinds = ", ".join(content) or "none"
            raise OpenApiError(
                f"operation {key}: only JSON request bodies are supported (this one: {kinds})"
            )
        return None
    schema = (media or {}).get("schema") or {"type": "object", "properties": {}}
    if not isinstance(schema, dict) or not (
        schema.get("type") == "object" or "properties" in schema
    ):
        raise OpenApiError(
            f"operation {key}: the JSON request body must be an object with properties"
        )
    return schema


def _name(operation_id: str, method: str, path: str) -> str:
    """A function name a model accepts: ``^[A-Za-z][A-Za-z0-9_-]{0,63}$``."""
    raw = operation_id or f"{method}_{path}"
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", raw)
    name = re.sub(r"_+", "_", name).strip("_-")
    name = re.sub(r"^[^A-Za-z]+", "", name)
    return (name or f"{method}_operation")[:64]


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        suffix = f"_{number}"
        candidate = name[: 64 - len(suffix)] + suffix
    return candidate


class _Resolver:
    """Replaces local ``$ref``s (``#/components/...``) by copies of what they point to."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        # Copies of shared schemas add up: bound the work like the document's own size.
        self.budget = MAX_NODES

    def resolve(self, node: Any, where: str) -> Any:
        return self._walk(node, where, ())

    def _walk(self, node: Any, where: str, chain: tuple[str, ...]) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise OpenApiError(f"document: more than {MAX_NODES:,} nodes once $refs are resolved")
        if isinstance(node, list):
            return [self._walk(item, where, chain) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            ref = node["$ref"]
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            if ref in chain or len(chain) >= MAX_REF_DEPTH:
                # A recursive (or very deep) schema: the model gets a plain object here.
                return {"type": "object", **self._walk(siblings, where, chain)}
            target = self._walk(self._target(ref, where), where, (*chain, ref))
            if isinstance(target, dict):
                return {**target, **self._walk(siblings, where, chain)}
            return target
        resolved = {key: self._walk(value, where, chain) for key, value in node.items()}
        return _merge_all_of(resolved)

    def _target(self, ref: Any, where: str) -> Any:
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise OpenApiError(f"{where}: only local $refs (#/components/...) are supported: {ref}")
        node: Any = self.document
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise OpenApiError(f"{where}: $ref {ref} points to nothing")
            node = node[part]
        return node


def _merge_all_of(schema: dict[str, Any]) -> dict[str, Any]:
    """``allOf`` of object schemas as one object schema (how OpenAPI documents compose
    bodies); any other ``allOf`` is left for the model to read."""
    parts = schema.get("allOf")
    if not isinstance(parts, list) or not all(
        isinstance(part, dict) and (part.get("type") == "object" or "properties" in part)
        for part in parts
    ):
        return schema
    merged = {key: value for key, value in schema.items() if key != "allOf"}
    merged["type"] = "object"
    properties = dict(merged.get("properties") or {})
    required = list(merged.get("required") or [])
    for part in parts:
        properties.update(part.get("properties") or {})
        required += [name for name in part.get("required") or [] if name not in required]
    merged["properties"] = properties
    if required:
        merged["required"] = required
    return merged
