"""The subset of JSON Schema that HTTP tools use: checking a tool's ``parameters`` when it
is saved, and checking a call's arguments against them.

Supported: ``type`` (one or a list; ``integer``, ``number``, ``string``, ``boolean``,
``array``, ``object``, ``null``), ``required``, ``enum``, ``items``, nested ``properties``,
``additionalProperties: false`` and OpenAPI 3.0's ``nullable``. Other keywords (formats,
bounds, patterns, ``oneOf``...) are kept for the model to read but not enforced: the
upstream API is the final judge of its own inputs.

``jsonschema`` does the work: the subset is itself a schema (``SUBSET``, in
``subset_schema``) that a Draft 2020-12 validator checks a tool's schema against, and
arguments are checked by a validator built from Draft 7's keywords (its type checker, its
``items`` and ``properties``; Draft 7 because OpenAPI 3.0 schemas are of that age). What
stays ours: the subset itself (a standard meta-schema would reject OpenAPI 3.0's boolean
``exclusiveMinimum``, and enforce keywords we leave to the upstream), the one rule JSON
Schema cannot state (``required`` names declared properties), ``nullable`` (not a JSON
Schema keyword), and the ``path: problem`` messages that the console and the model read.
"""

import json
from collections.abc import Iterable, Iterator
from typing import Any

from jsonschema import Draft7Validator, Draft202012Validator, ValidationError, validators

from apps.http_tools.subset_schema import MAX_SCHEMA_BYTES, SUBSET

__all__ = ["SchemaError", "check_parameters_schema", "validation_errors"]

_Keyword = Any  # jsonschema's keyword functions: (validator, value, instance, schema)


class SchemaError(ValueError):
    """The schema itself is unusable; the message names where."""


def _required_are_properties(validator, _enabled, schema, _meta) -> Iterator[ValidationError]:
    """The subset's own keyword: ``required`` names only declared properties. ``schema``
    is the instance checked (a tool's schema, or a part of it: not always an object)."""
    if not isinstance(schema, dict):
        return  # not a schema object: the subset's ``type`` says so
    required = schema.get("required")
    properties = schema.get("properties", {})
    if not isinstance(required, list) or not isinstance(properties, dict):
        return  # malformed: the subset's other keywords say so
    missing = [str(name) for name in required if name not in properties]
    if missing:
        message = f"names unknown properties: {', '.join(missing)}"
        yield ValidationError(message, path=["required"])


_SubsetValidator = validators.extend(
    Draft202012Validator, {"requiredAreProperties": _required_are_properties}
)
_SUBSET_VALIDATOR = _SubsetValidator(SUBSET)


def _where(root: str, path: Iterable[str | int]) -> str:
    return root + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def check_parameters_schema(schema: Any) -> dict[str, Any]:
    """``schema`` if it is a usable tool parameters schema: an object schema whose
    properties, required list and nested schemas are well formed."""
    if not isinstance(schema, dict):
        raise SchemaError("must be a JSON Schema object")
    if schema.get("type") != "object":
        raise SchemaError('the top level must be {"type": "object", "properties": {...}}')
    if len(json.dumps(schema)) > MAX_SCHEMA_BYTES:
        raise SchemaError(f"is larger than {MAX_SCHEMA_BYTES // 1024} KiB")
    error = next(_SUBSET_VALIDATOR.iter_errors(schema), None)
    if error is not None:
        messages = error.schema.get("messages", {}) if isinstance(error.schema, dict) else {}
        message = messages.get(error.validator, error.message)
        raise SchemaError(f"{_where('parameters', error.absolute_path)}: {message}")
    return schema


# --- arguments ------------------------------------------------------------------------------


def _json_type(value: Any) -> str:
    """The JSON type of a decoded value, for messages (3.0 is a number, True a boolean)."""
    for python_type, name in _JSON_TYPES:
        if isinstance(value, python_type):
            return name
    return type(value).__name__


_JSON_TYPES = (
    (type(None), "null"),
    (bool, "boolean"),  # before int: bool is an int in Python
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)


def _declared(schema: dict[str, Any]) -> list[str]:
    declared = schema.get("type")
    if declared is None:
        return []
    return declared if isinstance(declared, list) else [declared]


def _skipped(validator, instance: Any, schema: dict[str, Any]) -> bool:
    """A null that ``nullable`` allows, or a value of the wrong type (reported once, by
    ``type``), is not checked further."""
    if instance is None and schema.get("nullable") is True:
        return True
    expected = _declared(schema)
    return bool(expected) and not any(validator.is_type(instance, name) for name in expected)


def _type(validator, _declared_type, instance, schema) -> Iterator[ValidationError]:
    if instance is None and schema.get("nullable") is True:
        return
    expected = _declared(schema)
    if not any(validator.is_type(instance, name) for name in expected):
        yield ValidationError(f"expected {' or '.join(expected)}, got {_json_type(instance)}")


def _enum(validator, options, instance, schema) -> Iterator[ValidationError]:
    # jsonschema's equality: JSON's (true is not 1), where Python's ``in`` would say it is.
    for _ in Draft7Validator.VALIDATORS["enum"](validator, options, instance, schema):
        allowed = ", ".join(json.dumps(option, ensure_ascii=False) for option in options)
        yield ValidationError(f"must be one of {allowed}")


def _required(validator, required, instance, schema) -> Iterator[ValidationError]:
    if validator.is_type(instance, "object"):
        for name in required or []:
            if name not in instance:
                yield ValidationError("is required", path=[name])


def _additional(validator, extra, instance, schema) -> Iterator[ValidationError]:
    """Unlike Draft 7's, one error per unknown name, and ``patternProperties`` is not
    part of the subset."""
    if not validator.is_type(instance, "object"):
        return
    known = schema.get("properties") or {}
    for name, value in instance.items():
        if name in known:
            continue
        if extra is False:
            yield ValidationError("is not a known parameter", path=[name])
        elif isinstance(extra, dict):
            yield from validator.descend(value, extra, path=name)


def _after_type(keyword: _Keyword) -> _Keyword:
    def check(validator, value, instance, schema):
        if not _skipped(validator, instance, schema):
            yield from keyword(validator, value, instance, schema)

    return check


_ArgumentsValidator = validators.create(
    meta_schema=Draft7Validator.META_SCHEMA,
    validators={
        "type": _type,
        "enum": _after_type(_enum),
        "items": _after_type(Draft7Validator.VALIDATORS["items"]),
        "required": _after_type(_required),
        "properties": _after_type(Draft7Validator.VALIDATORS["properties"]),
        "additionalProperties": _after_type(_additional),
    },
    type_checker=Draft7Validator.TYPE_CHECKER,  # an integer may be written 3.0
)


def validation_errors(value: Any, schema: dict[str, Any], where: str = "arguments") -> list[str]:
    """What is wrong with ``value`` under ``schema``, as ``path: problem`` lines; empty when
    it is valid."""
    errors = sorted(
        _ArgumentsValidator(schema).iter_errors(value),
        key=lambda error: _document_order(value, error.absolute_path),
    )
    return [f"{_where(where, error.absolute_path)}: {error.message}" for error in errors]


def _document_order(value: Any, path: Iterable[str | int]) -> tuple[int, ...]:
    """Where an error's path lies in ``value``, to list errors in the order of the document
    (jsonschema's follows the schema's keywords): a missing required name first."""
    order: list[int] = []
    for step in path:
        if isinstance(value, list) and isinstance(step, int):
            order.append(step)
            value = value[step]
        elif isinstance(value, dict) and step in value:
            order.append(list(value).index(step))
            value = value[step]
        else:
            order.append(-1)
            break
    return tuple(order)
