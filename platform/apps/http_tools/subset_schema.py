"""The subset of JSON Schema a tool's ``parameters`` may use, written as a JSON Schema.

``SUBSET`` is a meta-schema: a tool's schema is valid when it validates against it (see
``json_schema.check_parameters_schema``). Each nesting level is its own definition, so the
depth limit is part of the meta-schema and validation never recurses past it. A
``messages`` entry (an annotation jsonschema ignores) holds the text shown for a failing
keyword of that definition; ``requiredAreProperties`` is the subset's own keyword.
"""

from typing import Any

TYPES = ("string", "integer", "number", "boolean", "array", "object", "null")
MAX_SCHEMA_BYTES = 64 * 1024
MAX_DEPTH = 12
MAX_PROPERTIES = 100


def _level(depth: int) -> dict[str, Any]:
    """The meta-schema of a schema nested ``depth`` levels deep."""
    if depth > MAX_DEPTH:
        return {"not": {}, "messages": {"not": f"nested more than {MAX_DEPTH} levels deep"}}
    nested = {"$ref": f"#/$defs/level{depth + 1}"}
    return {
        "type": "object",
        "not": {"required": ["$ref"]},
        "messages": {
            "type": "must be a schema object",
            "not": "$ref is not supported here; inline the schema",
        },
        "properties": {
            "type": {
                "anyOf": [
                    {"enum": list(TYPES)},
                    {"type": "array", "minItems": 1, "items": {"enum": list(TYPES)}},
                ],
                "messages": {"anyOf": f"must be one of {', '.join(TYPES)} (or a list)"},
            },
            "enum": {
                "type": "array",
                "minItems": 1,
                "messages": dict.fromkeys(("type", "minItems"), "must be a non-empty list"),
            },
            "items": nested,
            "properties": {
                "type": "object",
                "maxProperties": MAX_PROPERTIES,
                "additionalProperties": nested,
                "messages": {
                    "type": "must be an object",
                    "maxProperties": f"more than {MAX_PROPERTIES} properties",
                },
            },
            "required": {
                # anyOf: one message for the list, not one per bad item.
                "anyOf": [{"type": "array", "items": {"type": "string"}}],
                "messages": {"anyOf": "must be a list of property names"},
            },
            "additionalProperties": {"if": {"type": "boolean"}, "else": nested},
        },
        "requiredAreProperties": True,
    }


SUBSET: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$ref": "#/$defs/level0",
    "$defs": {f"level{depth}": _level(depth) for depth in range(MAX_DEPTH + 2)},
}
