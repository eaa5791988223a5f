"""The subset of JSON Schema that HTTP tools use: checking a tool's ``parameters`` when it
is saved, and checking a call's arguments against them.

Supported: ``type`` (one or a list; ``integer``, ``number``, ``string``, ``boolean``,
``array``, ``object``, ``null``), ``required``, ``enum``, ``items``, nested ``properties``,
``additionalProperties: false`` and OpenAPI 3.0's ``nullable``. Other keywords (formats,
bounds, patterns, ``oneOf``...) are kept for the model to read but not enforced: the
upstream API is the final judge of its own inputs. ``jsonschema`` is not a dependency, and
a full validator is more than a function-calling schema needs.
"""

import json
from typing import Any

TYPES = ("string", "integer", "number", "boolean", "array", "object", "null")
MAX_SCHEMA_BYTES = 64 * 1024
MAX_DEPTH = 12
MAX_PROPERTIES = 100


class SchemaError(ValueError):
    """The schema itself is unusable; the message names where."""


def check_parameters_schema(schema: Any) -> dict[str, Any]:
    """``schema`` if it is a usable tool parameters schema: an object schema whose
    properties, required list and nested schemas are well formed."""
    if not isinstance(schema, dict):
        raise SchemaError("must be a JSON Schema object")
    if schema.get("type") != "object":
        raise SchemaError('the top level must be {"type": "object", "properties": {...}}')
    if len(json.dumps(schema)) > MAX_SCHEMA_BYTES:
        raise SchemaError(f"is larger than {MAX_SCHEMA_BYTES // 1024} KiB")
    _check(schema, "parameters", 0)
    return schema


def _check(schema: Any, where: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise SchemaError(f"{where}: nested more than {MAX_DEPTH} levels deep")
    if not isinstance(schema, dict):
        raise SchemaError(f"{where}: must be a schema object")
    if "$ref" in schema:
        raise SchemaError(f"{where}: $ref is not supported here; inline the schema")
    declared = schema.get("type")
    if declared is not None:
        names = declared if isinstance(declared, list) else [declared]
        if not names or any(name not in TYPES for name in names):
            raise SchemaError(f"{where}.type: must be one of {', '.join(TYPES)} (or a list)")
    if "enum" in schema and not (isinstance(schema["enum"], list) and schema["enum"]):
        raise SchemaError(f"{where}.enum: must be a non-empty list")
    if "items" in schema:
        _check(schema["items"], f"{where}.items", depth + 1)
    if "properties" in schema:
        properties = schema["properties"]
        if not isinstance(properties, dict):
            raise SchemaError(f"{where}.properties: must be an object")
        if len(properties) > MAX_PROPERTIES:
            raise SchemaError(f"{where}.properties: more than {MAX_PROPERTIES} properties")
        for name, sub in properties.items():
            _check(sub, f"{where}.properties.{name}", depth + 1)
    if "required" in schema:
        required = schema["required"]
        if not isinstance(required, list) or not all(isinstance(n, str) for n in required):
            raise SchemaError(f"{where}.required: must be a list of property names")
        missing = [n for n in required if n not in schema.get("properties", {})]
        if missing:
            raise SchemaError(f"{where}.required: names unknown properties: {', '.join(missing)}")
    extra = schema.get("additionalProperties")
    if extra is not None and not isinstance(extra, bool):
        _check(extra, f"{where}.additionalProperties", depth + 1)


def validation_errors(value: Any, schema: dict[str, Any], where: str = "arguments") -> list[str]:
    """What is wrong with ``value`` under ``schema``, as ``path: problem`` lines; empty when
    it is valid."""
    errors: list[str] = []
    _validate(value, schema, where, errors)
    return errors


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _matches(value: Any, expected: str) -> bool:
    actual = _type_of(value)
    if expected == "number":
        return actual in ("integer", "number")
    if expected == "integer":
        # JSON has one number type; models often write 3 as 3.0.
        return actual == "integer" or (actual == "number" and float(value).is_integer())
    return actual == expected


def _validate(value: Any, schema: dict[str, Any], where: str, errors: list[str]) -> None:
    if value is None and schema.get("nullable") is True:
        return
    declared = schema.get("type")
    if declared is not None:
        expected = declared if isinstance(declared, list) else [declared]
        if not any(_matches(value, name) for name in expected):
            errors.append(f"{where}: expected {' or '.join(expected)}, got {_type_of(value)}")
            return
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(json.dumps(option, ensure_ascii=False) for option in schema["enum"])
        errors.append(f"{where}: must be one of {allowed}")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            _validate(item, schema["items"], f"{where}[{index}]", errors)
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for name in schema.get("required") or []:
            if name not in value:
                errors.append(f"{where}.{name}: is required")
        for name, item in value.items():
            if name in properties:
                _validate(item, properties[name], f"{where}.{name}", errors)
            elif schema.get("additionalProperties") is False:
                errors.append(f"{where}.{name}: is not a known parameter")
            elif isinstance(schema.get("additionalProperties"), dict):
                _validate(item, schema["additionalProperties"], f"{where}.{name}", errors)
